"""The Gradio web chat on a KnowledgeBase. `build_app(kb)` builds the page; `serve(settings)`
opens the knowledge base and serves it. The UI only calls KnowledgeBase: no retrieval or
answer logic lives here."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rag.errors import RagError
from rag.kb import KnowledgeBase
from rag.settings import AUTO, Settings
from rag.types import Answer
from ui import render, sources
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

Blocks = dict[int, tuple[str, str]]  # the sources block of each answer: turn -> (question, html)


def build_app(kb: KnowledgeBase, examples: Sequence[str] = ()) -> gr.Blocks:
    """The chat, each answer's sources, the document viewer, per-session settings, the
    documents panel and `/ask`."""
    import gradio as gr

    from ui.documents import documents_panel, status_and_rows

    settings = kb.settings
    with gr.Blocks(title="Knowledge base", analytics_enabled=False) as app:
        gr.Markdown("## Ask the knowledge base\nAnswers quote the documents; `[n]` links to the source, "
                    "and a source's file name opens the document at that passage.")
        header = gr.Markdown(elem_id="kb-status")
        blocks = gr.State({})
        panel = gr.HTML(sources.EMPTY_HTML, elem_id="sources", render=False, js_on_load=SOURCES_JS)
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Accordion("Settings", open=False):
                    default = kb.answerer_name()  # `auto` resolved: what answers unless changed here
                    answerer = gr.Dropdown(list(settings.offered_answerers), value=default, label="Answerer",
                                           info=render.answerer_info(default, settings.offered_answerers,
                                                                     settings.answerer == AUTO),
                                           interactive=len(settings.offered_answerers) > 1)
                    k = gr.Slider(1, MAX_K, value=min(settings.k, MAX_K), step=1, label="Passages (k)")
                    show_scores = gr.Checkbox(False, label="Show retrieval similarity scores")
                chatbot = gr.Chatbot(
                    label="Chat", elem_id="chat", height=520, latex_delimiters=[], feedback_options=None,
                )
                chat = gr.ChatInterface(
                    _responder(kb),
                    chatbot=chatbot,
                    additional_inputs=[answerer, k, show_scores, blocks],
                    additional_outputs=[panel, blocks],
                    examples=[[q, None, None, None, None] for q in examples] or None,
                    api_name="chat",  # streams the rendered chat; programs should use /ask
                    api_visibility="undocumented",
                    fill_height=False,
                )
                chat.chatbot.clear(lambda: (sources.EMPTY_HTML, {}), outputs=[panel, blocks], queue=False,
                                   api_visibility="private")
                # through the queue, so that it lands after the chat's own clean-up of the
                # cancelled answer; and into the chat's history state, or the next answer would
                # drop the "Stopped" mark
                chat.textbox.stop(_on_stop, [chat.chatbot, blocks],
                                  [chat.chatbot, chat.chatbot_state, panel, blocks],
                                  api_visibility="private")
            with gr.Column(scale=2):
                viewer = gr.HTML("", elem_id="viewer", js_on_load=VIEWER_JS)
                panel.render()
        panel.click(_opener(kb), None, [viewer], api_visibility="private")
        table = documents_panel(kb, header, app)
        app.load(status_and_rows(kb), outputs=[table, header], api_name="documents")
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


def _responder(kb: KnowledgeBase) -> Any:
    def respond(
        message: str, history: list[dict[str, Any]], answerer: str, k: float, show_scores: bool,
        blocks: Blocks,
    ) -> Iterator[tuple[str, str, Blocks]]:
        turn = render.answer_count(history) + 1
        blocks = {t: b for t, b in (blocks or {}).items() if t < turn}
        if not message or not message.strip():
            yield render.EMPTY_HINT, sources.panel(blocks, turn), blocks
            return
        pending = {**blocks, turn: (message, sources.SEARCHING_HTML)}
        text = ""
        try:
            stream = kb.stream(message, render.history_turns(history), k=int(k), answerer=answerer)
            for piece in stream:
                if isinstance(piece, Answer):
                    blocks = {**blocks, turn: (message, sources.answer_sources(piece, turn, show_scores))}
                    yield render.render_answer(piece, turn), sources.panel(blocks, turn), blocks
                else:
                    text += piece
                    yield render.answer_markdown(text), sources.panel(pending, turn), pending
        except Exception as exc:  # every failure becomes the reply; the page stays usable
            blocks = {**blocks, turn: (message, sources.FAILED_HTML)}
            yield render.error_markdown(_answer_failed(exc, kb.settings)), sources.panel(blocks, turn), blocks

    return respond


def _on_stop(
    messages: list[dict[str, Any]], blocks: Blocks
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str, Blocks]:
    """The stop button: the partial answer is marked as stopped, its sources panel says so."""
    messages = list(messages or [])
    if messages and messages[-1].get("role") == "assistant":
        last = dict(messages[-1])
        last["content"] = render.stopped_markdown(render.message_text(last.get("content")))
        messages[-1] = last
    else:
        messages.append({"role": "assistant", "content": render.stopped_markdown("")})
    turn = render.answer_count(messages)
    question = render.message_text(messages[-2].get("content")) if len(messages) > 1 else ""
    blocks = {**(blocks or {}), turn: (question, sources.STOPPED_HTML)}
    return messages, messages, sources.panel(blocks, turn), blocks


def _opener(kb: KnowledgeBase) -> Any:
    def open_document(evt: gr.EventData) -> str:
        """The document viewer for a click on a source's file name: the whole document as text,
        scrolled to the cited spans. Only indexed documents are opened."""
        from rag.documents import load_source

        data = evt._data if isinstance(evt._data, dict) else {}
        source = str(data.get("source", ""))
        if source not in {d.source for d in kb.documents()}:
            return ""
        try:
            doc = load_source(kb.settings.corpus_dir, source)
            spans = [(int(lo), int(hi)) for lo, hi in data.get("spans", [])][:50]
            pages = [int(p) for p in data.get("pages", [])][:50]
        except (RagError, TypeError, ValueError) as exc:
            log.warning("cannot open %s: %s", source, exc)
            return ""
        return sources.viewer_html(source, doc.text, spans, str(data.get("section", "")), pages)

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
        if k is not None and not 1 <= int(k) <= MAX_K:
            raise gr.Error(f"k must be between 1 and {MAX_K}", print_exception=False)
        try:
            return kb.ask(question, turns, k=int(k) if k else None, answerer=answerer).to_json()
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

    app.queue(default_concurrency_limit=ANSWER_CONCURRENCY, max_size=MAX_QUEUE)
    # system fonts: the default theme would fetch Google Fonts, and this runs offline
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    _, url, _ = app.launch(
        server_name=host, server_port=port, auth=login(settings.auth),  # type: ignore[arg-type]
        # read-only: Gradio's own /upload route would still take files into its temp folder
        max_file_size=0 if settings.read_only else settings.max_upload_bytes,
        prevent_thread_lock=not block, show_error=True, quiet=not block, ssr_mode=False,
        theme=theme, css=CSS, footer_links=["api", "settings"],
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
