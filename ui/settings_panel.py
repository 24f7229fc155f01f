"""The chat's Settings, each explained where it is set (the answerer, with why `llm` is or is
not there and how to get it; the passages; the similarity scores), and kept in the browser
(gr.BrowserState: the page's localStorage) across a reload and a server restart, as is the
conversation."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.index_folder import BROWSER_SECRET
from rag.kb import KnowledgeBase
from rag.settings import AUTO, Settings
from ui import render, sources
from ui.chat import Blocks, Turns
from ui.page import K_NOTE_JS

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger(__name__)

# localStorage keys (Gradio encrypts the values, in the browser, with `browser_secret`)
SETTINGS_KEY = "rag-kb-settings"
CHAT_KEY = "rag-kb-chat"
# the sources kept across a reload: those of the last answers (each a few kB of HTML; the
# browser keeps about 5 MB a site); the messages are all kept
KEPT_ANSWERS = 10

K_INFO = ("How many passages are retrieved for an answer (the answerer reads them and cites "
          "the ones it uses): more can find more, and take longer.")
SCORES_INFO = ("Shows how close each passage came to the question in retrieval (0 to 1): "
               "a measure of likeness, not of truth.")


@dataclass
class Options:
    """The per-page answer options (the inputs of every answer)."""

    answerer: gr.Dropdown
    k: gr.Slider
    show_scores: gr.Checkbox

    def components(self) -> list[Any]:
        return [self.answerer, self.k, self.show_scores]


def settings_panel(kb: KnowledgeBase, max_k: int) -> Options:
    """The "Settings" accordion (closed)."""
    import gradio as gr

    from rag.models import llm_available

    settings = kb.settings
    offered = settings.offered_answerers
    default = kb.answerer_name()  # `auto` resolved: what answers unless changed here
    no_model = not llm_available(settings)  # else the operator left `llm` out (--answerers)
    with gr.Accordion("Settings", open=False, elem_id="settings"):
        answerer = gr.Dropdown(list(offered), value=default, label="Answerer", elem_id="answerer",
                               info=render.answerer_info(default, offered, settings.answerer == AUTO, no_model),
                               interactive=len(offered) > 1)
        k = gr.Slider(1, max_k, value=min(settings.k, max_k), step=1, label="Passages (k)", info=K_INFO,
                      elem_id="k")
        gr.HTML("", elem_id="k-note", js_on_load=K_NOTE_JS.replace("__MAX_K__", str(max_k)))
        show_scores = gr.Checkbox(False, label="Show retrieval similarity scores", info=SCORES_INFO,
                                  elem_id="show-scores")
    return Options(answerer, k, show_scores)


def browser_secret(settings: Settings) -> str | None:
    """The key the page's settings and conversation are encrypted with in the browser, kept in
    the index folder (BROWSER_SECRET, readable by its owner only) so that a restarted server
    reads what the browser kept; None (a key of this process, as Gradio makes by default) when
    the folder cannot hold it (a read-only index), and the log says so."""
    path = settings.index_dir / BROWSER_SECRET
    tmp = path.with_name(f"{BROWSER_SECRET}.{os.getpid()}.tmp")
    try:
        if not path.exists():
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
                out.write(secrets.token_urlsafe(32))
            with contextlib.suppress(FileExistsError):  # a server started at the same time made one first
                os.link(tmp, path)  # whole or not at all: another server never reads half a key
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) < 32:
            raise ValueError("it holds no key; delete it and restart")
        return secret
    except (OSError, ValueError) as exc:
        log.warning("cannot keep the web page's browser key in %s (%s): the settings and conversations "
                    "kept in browsers are forgotten when this server restarts", path, exc)
        return None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def keep_settings(app: gr.Blocks, options: Options, kb: KnowledgeBase, max_k: int, secret: str | None) -> None:
    """The options are stored in the browser when changed and put back when the page loads (a
    stored value the server no longer offers falls back to the default)."""
    import gradio as gr

    stored = gr.BrowserState({}, storage_key=SETTINGS_KEY, secret=secret)
    offered = kb.settings.offered_answerers

    def restore(saved: Any) -> tuple[Any, Any, Any]:
        saved = saved if isinstance(saved, dict) else {}
        name, k, scores = saved.get("answerer"), saved.get("k"), saved.get("show_scores")
        return (name if name in offered else gr.skip(),
                k if isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= max_k else gr.skip(),
                scores if isinstance(scores, bool) else gr.skip())

    def save(answerer: str, k: float, show_scores: bool) -> dict[str, Any]:
        return {"answerer": answerer, "k": int(k), "show_scores": bool(show_scores)}

    private: dict[str, Any] = {"api_visibility": "private", "queue": False}
    app.load(restore, [stored], options.components(), **private)
    # saved one at a time, in the order the changes came: two saves run side by side (k set from
    # the number box, then the scores box ticked at once) could store the older k last (seen in
    # CI: tests/test_ui_server.py restored k 5 instead of 3)
    for component in options.components():
        component.change(save, options.components(), [stored], api_visibility="private",
                         concurrency_limit=1, concurrency_id="rag-settings-save")


def keep_conversation(app: gr.Blocks, chatbot: gr.Chatbot, panel: gr.HTML, blocks: gr.State, turns: gr.State,
                      secret: str | None) -> Any:
    """The conversation stored in the browser and put back when the page loads: the messages,
    the sources of the last answers and the turns a follow-up is asked with. Returns the
    function that stores it (chat.py runs it after every answer, undo and clear)."""
    import gradio as gr

    stored = gr.BrowserState({}, storage_key=CHAT_KEY, secret=secret)

    def restore(saved: Any) -> tuple[Any, Any, Any, Any]:
        saved = saved if isinstance(saved, dict) else {}
        messages = [m for m in saved.get("messages") or [] if isinstance(m, dict)
                    and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)]
        if not messages:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        kept, said = _by_turn(saved.get("blocks")), _by_turn(saved.get("turns"))
        latest = render.answer_count(messages)
        return messages, sources.panel(kept, latest), kept, said

    def save(messages: list[dict[str, Any]], shown: Blocks, said: Turns) -> dict[str, Any]:
        """The messages as text, the sources of the last KEPT_ANSWERS answers, all the turns."""
        messages = [{"role": m.get("role"), "content": render.message_text(m.get("content"))}
                    for m in messages or []]
        latest = render.answer_count(messages)
        kept = {str(t): list(b) for t, b in (shown or {}).items() if latest - KEPT_ANSWERS < int(t) <= latest}
        return {"messages": messages, "blocks": kept, "turns": {str(t): list(s) for t, s in (said or {}).items()}}

    app.load(restore, [stored], [chatbot, panel, blocks, turns], api_visibility="private", queue=False)

    def stored_after(event: Any) -> Any:
        return event.then(save, [chatbot, blocks, turns], [stored], api_visibility="private", queue=False)

    return stored_after


def _by_turn(saved: Any) -> dict[int, tuple[str, str]]:
    """turn -> a pair of strings (a sources block, a turn), from what the browser kept (JSON:
    the turns are strings, the pairs lists); anything else is left out."""
    pairs = saved.items() if isinstance(saved, dict) else ()
    return {int(t): (str(p[0]), str(p[1])) for t, p in pairs
            if str(t).isdigit() and isinstance(p, list) and len(p) == 2}
