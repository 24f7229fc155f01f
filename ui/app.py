"""The Gradio web chat on a KnowledgeBase. `build_app(kb)` builds the page; `serve(settings)`
opens the knowledge base and serves it. The UI only calls KnowledgeBase: no retrieval or
answer logic lives here."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import RagError
from rag.kb import KnowledgeBase
from rag.settings import ANSWERERS, Settings
from rag.types import Answer, SyncReport
from ui import render

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

CSS = """
.rag-sources h3 { margin: 0 0 6px 0; }
.rag-source { border-left: 3px solid var(--color-accent); padding: 4px 10px; margin: 10px 0; }
.rag-source-head { font-size: 0.9em; margin-bottom: 4px; }
.rag-source-head span { margin-right: 6px; }
.rag-marker { font-weight: 600; }
.rag-file { font-family: var(--font-mono); }
.rag-section, .rag-score, .rag-timing { color: var(--body-text-color-subdued); }
.rag-chunk { white-space: pre-wrap; font-size: 0.9em; line-height: 1.45; }
mark.rag-quote { background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px; }
.rag-abstained, .rag-unsupported { color: #b45309; }
"""


def build_app(kb: KnowledgeBase, examples: Sequence[str] = ()) -> gr.Blocks:
    """The chat, its sources panel, per-session settings, the documents panel and `/ask`."""
    import gradio as gr

    settings = kb.settings
    with gr.Blocks(title="Knowledge base", analytics_enabled=False) as app:
        gr.Markdown("## Ask the knowledge base\nAnswers quote the documents; `[n]` links to the source.")
        sources = gr.HTML(render.EMPTY_SOURCES_HTML, elem_id="sources", render=False)
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Accordion("Settings", open=False):
                    answerer = gr.Dropdown(list(ANSWERERS), value=settings.answerer, label="Answerer")
                    k = gr.Slider(1, MAX_K, value=min(settings.k, MAX_K), step=1, label="Passages (k)")
                    show_scores = gr.Checkbox(False, label="Show retrieval scores")
                chatbot = gr.Chatbot(
                    label="Chat", elem_id="chat", height=520, latex_delimiters=[], feedback_options=None,
                )
                chat = gr.ChatInterface(
                    _responder(kb),
                    chatbot=chatbot,
                    additional_inputs=[answerer, k, show_scores],
                    additional_outputs=[sources],
                    examples=[[q, None, None, None] for q in examples] or None,
                    api_name="chat",  # streams the rendered chat; programs should use /ask
                    api_visibility="undocumented",
                    fill_height=False,
                )
                chat.chatbot.clear(lambda: render.EMPTY_SOURCES_HTML, outputs=[sources], queue=False,
                                    api_visibility="private")
            with gr.Column(scale=2):
                sources.render()
        with gr.Accordion("Documents", open=False):
            docs = gr.Dataframe(
                headers=["document", "chunks"], datatype=["str", "number"],
                interactive=False, label="indexed documents", elem_id="documents",
            )
            status_line = gr.Markdown(label="index status", elem_id="sync-status")
            if settings.read_only:
                gr.Markdown("This knowledge base is read-only: uploads and sync are turned off.")
            else:
                _sync_controls(kb, docs, status_line)
        app.load(_documents(kb), outputs=[docs, status_line], api_name="documents")
        gr.api(_asker(kb), api_name="ask")
    return app


def _responder(kb: KnowledgeBase) -> Any:
    def respond(
        message: str, history: list[dict[str, Any]], answerer: str, k: float, show_scores: bool
    ) -> Iterator[tuple[str, str]]:
        import gradio as gr

        if not message or not message.strip():
            raise gr.Error("Type a question first.")
        text = ""
        try:
            stream = kb.stream(message, render.history_turns(history), k=int(k), answerer=answerer)
            for piece in stream:
                if isinstance(piece, Answer):
                    yield render.render_answer(piece), render.sources_html(piece, show_scores)
                else:
                    text += piece
                    yield render.answer_markdown(text), render.SEARCHING_HTML
        except RagError as exc:
            raise gr.Error(str(exc)) from exc

    return respond


def _asker(kb: KnowledgeBase) -> Any:
    def ask(question: str) -> dict[str, Any]:
        """Answer a question; returns the answer, whether it abstained, its citations and timings."""
        import gradio as gr

        try:
            return kb.ask(question).to_json()
        except RagError as exc:
            raise gr.Error(str(exc)) from exc

    return ask


def _documents(kb: KnowledgeBase) -> Any:
    def documents() -> tuple[list[list[Any]], str]:
        listed = kb.documents()
        return render.documents_rows(listed), render.sync_status(kb.last_sync(), listed)

    return documents


def _report_text(report: SyncReport, saved: Sequence[str] = ()) -> str:
    lines = [f"Saved {render.escape_markdown(', '.join(saved))}." if saved else ""]
    lines.append(
        f"Synced in {report.seconds:.1f} s: {report.added} added, {report.updated} updated, "
        f"{report.deleted} deleted, {report.unchanged} unchanged; {report.chunks} chunks indexed."
    )
    lines += [f"Skipped {render.escape_markdown(s.path)}: {render.escape_markdown(s.reason)}" for s in report.skipped]
    return "\n\n".join(line for line in lines if line)


def _reporter(progress: gr.Progress) -> Callable[[int, int], None]:
    """Show the sync's chunk count in Gradio's progress bar."""

    def report(done: int, total: int) -> None:
        progress((done, total), desc="Indexing chunks (unchanged ones are not embedded again)", unit="chunks")

    return report


def _sync_controls(kb: KnowledgeBase, docs: gr.Dataframe, status_line: gr.Markdown) -> None:
    import gradio as gr

    from rag.load import SUFFIXES

    documents = _documents(kb)
    files = gr.File(
        label=f"Upload documents ({', '.join(SUFFIXES)}; up to {kb.settings.max_upload_mb:g} MB)",
        file_count="multiple", file_types=list(SUFFIXES), type="filepath", elem_id="upload-files",
    )
    save_as = gr.Textbox(
        label="Save as (optional: a path inside the corpus folder, for a single file)",
        value="", placeholder="e.g. notes/meeting.md", elem_id="upload-name",
    )
    with gr.Row():
        upload_btn = gr.Button("Upload and sync", variant="primary", elem_id="upload-button")
        sync_btn = gr.Button("Sync now", elem_id="sync-button")
    result = gr.Markdown(label="sync report", elem_id="sync-result")

    def upload(
        files: list[str] | None, save_as: str, progress: gr.Progress = gr.Progress()  # noqa: B008
    ) -> tuple[str, list[list[Any]], str]:
        if not files:
            raise gr.Error("Choose a file to upload first.")
        if save_as.strip() and len(files) > 1:
            raise gr.Error("'Save as' names one file: upload one file at a time to name it.")
        try:
            saved = []
            progress(0.1, desc="Saving into the corpus folder")
            for path in files:
                target = save_as.strip() or Path(path).name
                kb.add_file(target, Path(path).read_bytes())
                saved.append(target)
            report = kb.sync(progress=False, on_progress=_reporter(progress))
        except RagError as exc:
            raise gr.Error(str(exc)) from exc
        return (_report_text(report, saved), *documents())

    def sync_now(progress: gr.Progress = gr.Progress()) -> tuple[str, list[list[Any]], str]:  # noqa: B008
        try:
            report = kb.sync(progress=False, on_progress=_reporter(progress))
        except RagError as exc:
            raise gr.Error(str(exc)) from exc
        return (_report_text(report), *documents())

    outputs = [result, docs, status_line]
    upload_btn.click(upload, [files, save_as], outputs, api_name="upload",
                     concurrency_limit=1, concurrency_id="sync")
    sync_btn.click(sync_now, None, outputs, api_name="sync", concurrency_limit=1, concurrency_id="sync")


def launch(app: gr.Blocks, settings: Settings, host: str = "127.0.0.1", port: int = 7860,
           *, block: bool = True) -> str:
    """Start the server (queue, login, upload limit, styles); returns its local URL."""
    import gradio as gr

    auth = None
    if settings.auth:
        user, password = settings.auth.split(":", 1)
        auth = (user, password)
    app.queue(default_concurrency_limit=ANSWER_CONCURRENCY, max_size=MAX_QUEUE)
    # system fonts: the default theme would fetch Google Fonts, and this runs offline
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    _, url, _ = app.launch(
        server_name=host, server_port=port, auth=auth, max_file_size=settings.max_upload_bytes,
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
    kb.embedder.embed_query("warm up")
    launch(build_app(kb, example_questions(kb)), settings, host, port)
