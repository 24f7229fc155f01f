"""The documents panel: the indexed documents, upload (never over an existing document unless
"replace" is chosen), delete with a confirm step, and sync. Refusals show as a message under
the upload box; the table stays. With `--read-only` none of the controls (or endpoints) exist."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import RagError
from rag.kb import KnowledgeBase
from rag.settings import Settings
from rag.types import SyncReport
from ui import render

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger(__name__)

Refreshed = tuple[list[list[Any]], str]  # the table's rows and the header's status line


def status_and_rows(kb: KnowledgeBase) -> Callable[[], Refreshed]:
    titles: dict[str, list[str]] = {}  # by the BM25 index's version: made again after a sync

    def documents() -> Refreshed:
        """The indexed documents (name, passages) and the page header: what the knowledge base
        is about (the operator's line, or its documents' titles) and what it holds."""
        from ui.topics import document_titles, topics_markdown

        listed = kb.documents()
        if not kb.settings.kb_description:
            kb.lexical.refresh()
            version = kb.lexical.version
            if version not in titles:
                titles.clear()
                titles[version] = document_titles(kb.lexical.chunks)
        about = topics_markdown(kb.settings.kb_description, next(iter(titles.values()), []))
        status = render.sync_status(kb.last_sync(), listed)
        return render.documents_rows(listed), f"{about}\n\n{status}"

    return documents


def _done(saved: Sequence[str], deleted: Sequence[str]) -> list[str]:
    lines = [f"Saved {render.escape_markdown(', '.join(saved))}." if saved else ""]
    lines.append(f"Deleted {render.escape_markdown(', '.join(deleted))}." if deleted else "")
    return lines


def report_text(report: SyncReport, saved: Sequence[str] = (), deleted: Sequence[str] = ()) -> str:
    lines = _done(saved, deleted)
    summary = report.summary()
    lines.append(render.escape_markdown(summary[0].upper() + summary[1:] + "."))
    lines += [f"Skipped {render.escape_markdown(s.path)}: {render.escape_markdown(s.reason)}" for s in report.skipped]
    return "\n\n".join(line for line in lines if line)


def refused(exc: RagError, settings: Settings) -> str:
    log.warning("refused: %s", exc)
    message = render.public_message(exc, [settings.index_dir, settings.corpus_dir])
    return f"**Refused:** {render.escape_markdown(message)}"


def synced(kb: KnowledgeBase, saved: Sequence[str] = (), deleted: Sequence[str] = (),
           on_progress: Callable[[int, int], None] | None = None) -> str:
    """Sync, and say what changed; a failed sync is said in one line for the page (the
    server's folders named by their role, an internal error not shown), the rest is logged."""
    try:
        return report_text(kb.sync(progress=False, on_progress=on_progress), saved, deleted)
    except RagError as exc:
        log.warning("sync failed: %s", exc)
        message = render.public_message(exc, [kb.settings.index_dir, kb.settings.corpus_dir])
    except Exception as exc:
        log.exception("sync failed")
        message = f"an internal error ({type(exc).__name__}); the server log has the details"
    return "\n\n".join(x for x in (*_done(saved, deleted), f"**Sync failed:** {render.escape_markdown(message)}") if x)


def _reporter(progress: gr.Progress) -> Callable[[int, int], None]:
    """Show the sync's chunk count in Gradio's progress bar."""

    def report(done: int, total: int) -> None:
        progress((done, total), desc="Indexing passages (unchanged ones are not embedded again)", unit="passages")

    return report


def documents_panel(kb: KnowledgeBase, header: gr.Markdown, app: gr.Blocks) -> gr.Dataframe:
    """The "Documents" tab's content; returns its table (the page loads it with the header)."""
    import gradio as gr

    with gr.Column():
        # file names wrap in a column of their own width: on a 390 px phone both columns show
        table = gr.Dataframe(
            headers=["document", "passages"], datatype=["str", "number"], wrap=True,
            column_widths=["72%", "28%"], interactive=False, label="indexed documents", elem_id="documents",
        )
        if kb.settings.read_only:
            gr.Markdown("This knowledge base is read-only: uploads, deletes and sync are turned off.")
        else:
            _controls(kb, table, header, app)
    return table


def _controls(kb: KnowledgeBase, table: gr.Dataframe, header: gr.Markdown, app: gr.Blocks) -> None:
    import gradio as gr

    from rag.load import SUFFIXES

    listing = status_and_rows(kb)
    files = gr.File(
        label=f"Upload documents ({', '.join(SUFFIXES)}; up to {kb.settings.max_upload_mb:g} MB)",
        file_count="multiple", file_types=list(SUFFIXES), type="filepath", elem_id="upload-files",
    )
    save_as = gr.Textbox(
        label="Save as (optional: a path inside the corpus folder, for a single file)",
        value="", placeholder="e.g. notes/meeting.md", elem_id="upload-name",
    )
    replace = gr.Checkbox(False, label="Replace a document that has the same name", elem_id="upload-replace")
    with gr.Row():
        upload_btn = gr.Button("Upload and sync", variant="primary", elem_id="upload-button")
        sync_btn = gr.Button("Sync now", elem_id="sync-button")
    result = gr.Markdown(elem_id="sync-result")
    with gr.Row(equal_height=True):
        doomed = gr.Dropdown([], label="Delete a document", elem_id="delete-choice", scale=3)
        delete_btn = gr.Button("Delete…", variant="stop", elem_id="delete-button", scale=1)
    with gr.Row(visible=False) as confirm_row:
        confirm_text = gr.Markdown(elem_id="delete-question")
        yes_btn = gr.Button("Yes, delete it", variant="stop", elem_id="delete-confirm")
        no_btn = gr.Button("Cancel", elem_id="delete-cancel")

    def refreshed(message: str) -> tuple[str, list[list[Any]], str, Any]:
        rows, status = listing()
        return message, rows, status, gr.update(choices=[r[0] for r in rows], value=None)

    def upload(
        files: list[str] | None, save_as: str, replace: bool, progress: gr.Progress = gr.Progress()  # noqa: B008
    ) -> tuple[str, list[list[Any]], str, Any]:
        if not files:
            return refreshed("Choose a file to upload first.")
        if save_as.strip() and len(files) > 1:
            return refreshed("'Save as' names one file: upload one file at a time to name it.")
        saved = []
        try:
            progress(0.1, desc="Saving into the corpus folder")
            for path in files:
                target = save_as.strip() or Path(path).name
                kb.add_file(target, Path(path).read_bytes(), replace=bool(replace))
                saved.append(target)
        except RagError as exc:
            message = refused(exc, kb.settings)
            if not saved:
                return refreshed(message)
            return refreshed(message + "\n\n" + synced(kb, saved))
        return refreshed(synced(kb, saved, on_progress=_reporter(progress)))

    def sync_now(progress: gr.Progress = gr.Progress()) -> tuple[str, list[list[Any]], str, Any]:  # noqa: B008
        return refreshed(synced(kb, on_progress=_reporter(progress)))

    def delete(name: str) -> str:
        """Delete a document: removed from the corpus folder, then from the index by a sync.
        Returns the sync report; a name that is no document is an error."""
        kb.delete_file(name)
        return synced(kb, deleted=[name])

    def ask_to_confirm(name: str | None) -> tuple[Any, str]:
        if not name:
            return gr.update(visible=False), ""
        return gr.update(visible=True), f"Delete **{render.escape_markdown(name)}** from the corpus folder and the index?"

    def confirmed(name: str | None) -> tuple[Any, str, list[list[Any]], str, Any]:
        try:
            message = delete(name or "") if name else "Choose a document to delete first."
        except RagError as exc:
            message = refused(exc, kb.settings)
        return (gr.update(visible=False), *refreshed(message))

    def api_delete(name: str) -> str:
        try:
            return delete(name)
        except RagError as exc:
            log.warning("/delete refused: %s", exc)
            message = render.public_message(exc, [kb.settings.index_dir, kb.settings.corpus_dir])
            raise gr.Error(message, print_exception=False) from None

    outputs = [result, table, header, doomed]
    # the box is emptied after every upload, saved or refused: the next upload sends only its own files
    upload_btn.click(upload, [files, save_as, replace], outputs, api_name="upload",
                     concurrency_limit=1, concurrency_id="sync",
                     ).then(lambda: None, None, [files], api_visibility="private", queue=False)
    sync_btn.click(sync_now, None, outputs, api_name="sync", concurrency_limit=1, concurrency_id="sync")
    delete_btn.click(ask_to_confirm, [doomed], [confirm_row, confirm_text], api_visibility="private", queue=False)
    doomed.change(lambda: gr.update(visible=False), None, [confirm_row], api_visibility="private", queue=False)
    no_btn.click(lambda: gr.update(visible=False), None, [confirm_row], api_visibility="private", queue=False)
    yes_btn.click(confirmed, [doomed], [confirm_row, *outputs], api_visibility="private",
                  concurrency_limit=1, concurrency_id="sync")
    gr.api(api_delete, api_name="delete", concurrency_limit=1, concurrency_id="sync")
    app.load(lambda: refreshed("")[3], None, [doomed], api_visibility="private")
