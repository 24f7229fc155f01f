"""The Gradio web chat on a KnowledgeBase. `build_app(kb)` builds the page; `serve(settings)`
opens the knowledge base and serves it. The UI only calls KnowledgeBase: no retrieval or
answer logic lives here."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rag.errors import RagError
from rag.kb import KnowledgeBase
from rag.settings import Settings
from rag.types import Answer, Progress
from ui import render, sources
from ui.chat import Blocks, Turns, chat_events
from ui.page import CSS, SOURCES_JS, VIEWER_JS

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger(__name__)

# Example questions come with the corpus: one per line in this hidden file (which the indexer
# skips); without it, they are made from the indexed section titles.
EXAMPLES_FILE = ".questions.txt"
N_EXAMPLES = 3

# 2 CPU cores: two answers at a time per endpoint (chat and /ask), the rest wait in the queue
ANSWER_CONCURRENCY = 2
MAX_QUEUE = 64
MAX_K = 20



def build_app(kb: KnowledgeBase, examples: Sequence[str] = ()) -> gr.Blocks:
    """The chat, each answer's sources, the document viewer, per-session settings, the
    documents panel and `/ask`."""
    import gradio as gr

    from ui.documents import documents_panel, status_and_rows
    from ui.settings_panel import browser_secret, keep_conversation, keep_settings, settings_panel

    with gr.Blocks(title="Knowledge base", analytics_enabled=False) as app:
        gr.Markdown("## Ask the knowledge base", elem_id="title")
        # what the knowledge base is about (its documents' titles, or the operator's line) and holds,
        # in the page as served (not blank until the load event refreshes it), and the answerer
        # this page's answers use (its Settings, below)
        listing = status_and_rows(kb)
        header = gr.Markdown(listing()[1], elem_id="kb-status")
        answerer_line = gr.Markdown(render.answerer_line(kb.answerer_name()), elem_id="kb-answerer")
        blocks, turns = gr.State({}), gr.State({})  # each answer's sources; the conversation (ui.chat)
        panel = gr.HTML(sources.EMPTY_HTML, elem_id="sources", render=False, js_on_load=SOURCES_JS)
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Chat", id="chat-tab"), gr.Row():
                with gr.Column(scale=3):
                    options = settings_panel(kb, MAX_K)
                    chatbot = gr.Chatbot(
                        label="Chat", elem_id="chat", height="min(520px, 58vh)", latex_delimiters=[],
                        feedback_options=None, examples=[{"text": q} for q in examples] or None,
                    )
                    with gr.Group():
                        textbox = gr.Textbox(show_label=False, label="Question", placeholder="Type a question…",
                                             submit_btn=True, stop_btn=False, autofocus=True, elem_id="question")
                    # the question being answered: set in the browser at Enter, so that the box is
                    # cleared at once and stays editable (what is typed next is kept)
                    asked = gr.Textbox(visible=False, elem_id="asked")
                    gr.Markdown("Answers cite the documents: `[n]` links to the source, and a source's file "
                                "name opens the document at that passage.", elem_id="how-to")
                with gr.Column(scale=2):
                    viewer = gr.HTML("", elem_id="viewer", js_on_load=VIEWER_JS)
                    panel.render()
            with gr.Tab("Documents", id="documents-tab"):
                table = documents_panel(kb, header, app)
        secret = browser_secret(kb.settings)  # what the browser keeps outlives a restart
        stored = keep_conversation(app, chatbot, panel, blocks, turns, secret)
        chat_events(_responder(kb), chatbot, textbox, asked, options.components(), panel, blocks, turns, stored)
        keep_settings(app, options, kb, MAX_K, secret)
        options.answerer.change(render.answerer_line, [options.answerer], [answerer_line], queue=False,
                                api_visibility="private")
        panel.click(_opener(kb), None, [viewer], api_visibility="private")
        app.load(listing, outputs=[table, header], api_name="documents", show_progress="hidden")
        gr.api(_asker(kb), api_name="ask")
    return app


def _answer_failed(exc: Exception, settings: Settings) -> str:
    """Log a failed answer (a user error in one line, a real failure with its traceback) and
    say it in one line."""
    if isinstance(exc, RagError):
        log.warning("answer failed: %s", exc)
        return render.public_message(exc, [settings.index_dir, settings.corpus_dir])
    log.exception("answer failed")
    return f"an internal error ({type(exc).__name__}); the server log has the details"


def checked_k(k: object) -> int:
    """`k` as a whole number of passages from 1 to MAX_K, or a RagError that says so."""
    message = f"k must be a whole number of passages from 1 to {MAX_K}, not {str(k)[:20]!r}"
    if isinstance(k, bool):
        raise RagError(message)
    try:
        number = float(str(k).strip()) if isinstance(k, str) else float(k)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RagError(message) from None
    if not number.is_integer() or not 1 <= number <= MAX_K:  # NaN and infinities too
        raise RagError(message)
    return int(number)


Reply = tuple[list[dict[str, Any]], str, Blocks, Turns]


def _responder(kb: KnowledgeBase) -> Any:
    def respond(
        question: str | None, messages: list[dict[str, Any]], answerer: str, k: float, show_scores: bool,
        blocks: Blocks, turns: Turns,
    ) -> Iterator[Reply]:
        """The answer to the chat's last question, streamed: (chat, sources panel, blocks,
        turns). The question is asked with the earlier turns, as the answerer wrote them."""
        question = question or ""
        messages = list(messages or [])
        turn = render.answer_count(messages) + 1
        blocks = {t: b for t, b in (blocks or {}).items() if t < turn}
        turns = {t: (str(q), str(a)) for t, (q, a) in (turns or {}).items() if t < turn}

        def reply(markdown: str, shown: Blocks, said: str | None = None) -> Reply:
            """`said`: the answer's text so far (a stopped answer is a turn with what it had)."""
            now = turns if said is None else {**turns, turn: (question, said)}
            return [*messages, {"role": "assistant", "content": markdown}], sources.panel(shown, turn), shown, now

        if not question.strip():
            yield reply(render.EMPTY_HINT, blocks)
            return
        try:
            passages = checked_k(k)
        except RagError as exc:
            yield reply(render.HINT_PREFIX + render.escape_markdown(str(exc) + "."), blocks)
            return
        pending = {**blocks, turn: (question, sources.SEARCHING_HTML)}
        text = ""
        try:
            history = [turns[t] for t in sorted(turns)]
            asked = kb.answerer_name(answerer)  # `auto` resolved: a fallback to quotes is said
            # what the answer is doing shows at once ("searching", "reading 7 passages"), in the
            # chat and the sources panel, until its first words come
            for piece in kb.steps(question, history, k=passages, answerer=answerer):
                if isinstance(piece, Answer):
                    blocks = {**blocks, turn: (question, sources.answer_sources(piece, turn, show_scores))}
                    yield reply(render.render_answer(piece, turn, asked), blocks, piece.text)
                elif isinstance(piece, Progress):
                    pending = {**blocks, turn: (question, sources.pending_html(piece))}
                    yield reply(render.progress_markdown(piece), pending, text)
                else:
                    text += piece
                    yield reply(render.answer_markdown(text), pending, text)
        except Exception as exc:  # every failure becomes the reply; the page stays usable
            blocks = {**blocks, turn: (question, sources.FAILED_HTML)}
            yield reply(render.error_markdown(_answer_failed(exc, kb.settings)), blocks)

    return respond


def _opener(kb: KnowledgeBase) -> Any:
    def open_document(evt: gr.EventData) -> str:
        """The document viewer for a click on a source's file name: the whole document as text,
        scrolled to the cited spans. Only indexed documents are opened; a document deleted since
        the answer is a message."""
        from rag.documents import load_source

        source = str(getattr(evt, "source", "") or "")
        if source not in {d.source for d in kb.documents()}:
            return sources.viewer_message(source, "is no longer in the knowledge base (it was deleted or "
                                          "renamed since this answer); ask again for current sources.")
        try:
            doc = load_source(kb.settings.corpus_dir, source)
            spans = [(int(lo), int(hi)) for lo, hi in getattr(evt, "spans", None) or []][:50]
            pages = [int(p) for p in getattr(evt, "pages", None) or []][:50]
        except (RagError, TypeError, ValueError) as exc:
            log.warning("cannot open %s: %s", source, exc)
            return sources.viewer_message(source, "cannot be opened; ask again, or sync the knowledge base.")
        section = str(getattr(evt, "section", "") or "")
        return sources.viewer_html(source, doc.text, spans, section, pages)

    import gradio as gr

    open_document.__annotations__["evt"] = gr.EventData  # resolved: Gradio finds EventData by type
    return open_document


def _asker(kb: KnowledgeBase) -> Any:
    def ask(
        question: str, history: list[list[str]] | None = None, k: int | None = None, answerer: str | None = None
    ) -> dict[str, Any]:
        """Answer a question, optionally as a follow-up of `history` ([question, answer] pairs),
        from `k` passages, with the `answerer` (extractive, llm or auto; by default the server's).
        Returns what `rag ask --json` prints: the answer, whether it abstained, its citations,
        timings and the answerer that answered."""
        import gradio as gr

        try:
            turns = [(str(q), str(a)) for q, a in (history or [])]
        except (TypeError, ValueError):
            raise gr.Error("history must be a list of [question, answer] pairs", print_exception=False) from None
        try:
            passages = None if k is None else checked_k(k)
            return kb.ask(question, turns, k=passages, answerer=answerer).to_json()
        except RagError as exc:
            log.warning("/ask refused: %s", exc)
            message = render.public_message(exc, [kb.settings.index_dir, kb.settings.corpus_dir])
            raise gr.Error(message, print_exception=False) from None

    return ask


def launch(app: gr.Blocks, settings: Settings, host: str = "127.0.0.1", port: int = 7860,
           *, block: bool = True) -> str:
    """Start the server (queue, login, upload limit, styles); returns its local URL."""
    import gradio as gr

    from ui.auth import login
    from ui.guard import middleware

    app.queue(default_concurrency_limit=ANSWER_CONCURRENCY, max_size=MAX_QUEUE)
    # system fonts: the default theme would fetch Google Fonts, and this runs offline
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    _, url, _ = app.launch(
        server_name=host, server_port=port, auth=login(settings.auth),  # type: ignore[arg-type]
        # read-only: Gradio's own /upload route would still take files into its temp folder
        max_file_size=0 if settings.read_only else settings.max_upload_bytes,
        prevent_thread_lock=not block, show_error=True, quiet=not block, ssr_mode=False,
        theme=theme, css=CSS, footer_links=["api"],  # one thing called Settings: the chat's
        # request bodies over a limit refused unread; the login learns the client's address
        app_kwargs={"middleware": [middleware()]},
    )
    return str(url)


def example_questions(kb: KnowledgeBase) -> list[str]:
    """Up to three sample questions: the corpus's own `.questions.txt`, else questions about
    section titles spread over the indexed documents."""
    path = kb.settings.corpus_dir / EXAMPLES_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        listed = [q.strip() for q in lines if q.strip() and not q.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError):
        listed = []
    if listed:
        return listed[:N_EXAMPLES]
    kb.lexical.refresh()
    titles = list(dict.fromkeys(c.section.strip().rstrip(":") for c in kb.lexical.chunks if c.section.strip()))
    if not titles:
        return []
    step = max(1, len(titles) // N_EXAMPLES)
    return [f"What do the documents say about {t[0].lower() + t[1:] if t[1:2].islower() else t}?"
            for t in titles[::step][:N_EXAMPLES]]


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """`rag serve`: sync a never-indexed corpus (unless read-only), load the model, serve."""
    kb = KnowledgeBase(settings)
    if not kb.last_sync() and not settings.read_only:
        log.warning("the index is empty; indexing %s first", settings.corpus_dir)
        kb.sync()
    kb.warm()  # the model, the index and the default answerer, before the first question
    launch(build_app(kb, example_questions(kb)), settings, host, port)
