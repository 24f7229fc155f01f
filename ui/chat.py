"""The web chat's conversation: the events of its chat box (ask, examples, retry, undo,
clear, stop) and the `/chat` endpoint, keeping the sources panel and the turns in step with the
chat. The answering itself is `respond` (ui.app), which calls the KnowledgeBase."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rag.answer import Turn
from ui import render, sources
from ui.page import BUSY_JS, IDLE_JS, SUBMIT_JS

if TYPE_CHECKING:
    import gradio as gr

Blocks = dict[int, tuple[str, str]]  # the sources block of each answer: turn -> (question, html)
# the conversation as data, what a follow-up is asked with: turn -> (question, the answer's text
# as the answerer wrote it). Only answers are turns (not failures or hints); a stopped answer is
# the text it had. Never read back from the chat's Markdown (Gradio changes it: tabs, indents).
Turns = dict[int, Turn]


def chat_events(
    respond: Any, chatbot: gr.Chatbot, textbox: gr.Textbox, asked: gr.Textbox,
    options: list[Any], panel: gr.HTML, blocks: gr.State, turns: gr.State, stored: Any = None,
) -> None:
    """The chat's events: a question is taken from the box in the browser (which clears it and
    keeps it editable and focused), shown as text in its bubble, then answered as a stream.
    While an answer streams, Enter leaves what was typed in the box (page.py). Stop, retry, undo, clear
    and the examples keep the sources panel (`blocks`) and the `turns` in step with the chat;
    after each, `stored` (if given) keeps the conversation in the browser."""
    import gradio as gr

    _example.__annotations__["evt"] = gr.SelectData  # resolved: Gradio finds SelectData by type
    private: dict[str, Any] = {"api_visibility": "private"}

    def answering(trigger: Any) -> None:
        """The answer (one at a time per page), with the stop button shown while it streams."""
        shown = trigger.then(lambda: gr.update(submit_btn=False, stop_btn=True), None, [textbox],
                             queue=False, **private)
        answer = shown.then(respond, [asked, chatbot, *options, blocks, turns], [chatbot, panel, blocks, turns],
                            trigger_mode="once", **private)
        # after the answer's last update has landed (also when it was stopped or failed): a
        # stopped answer is marked as such, and the box takes questions again
        for after in (answer.then, answer.failure):
            keep(after(_finished, [chatbot, blocks, turns], [chatbot, panel, blocks, turns, textbox], queue=False,
                       js=IDLE_JS, **private))
        answers.append(answer)

    def keep(event: Any) -> None:
        if stored is not None:
            stored(event)

    answers: list[Any] = []
    taken = textbox.submit(None, [textbox], [textbox, asked], js=SUBMIT_JS, **private)
    answering(taken.then(_with_question, [asked, chatbot], [chatbot], queue=False, **private))
    answering(chatbot.example_select(_example, None, [chatbot, asked], queue=False, js=BUSY_JS, **private))
    answering(chatbot.retry(_retried, [chatbot], [chatbot, asked], queue=False, js=BUSY_JS, **private))
    textbox.stop(None, None, None, cancels=answers, **private)
    keep(chatbot.undo(_undone, [chatbot, blocks, turns], [chatbot, textbox, panel, blocks, turns], queue=False,
                      **private))
    keep(chatbot.clear(lambda: (sources.EMPTY_HTML, {}, {}), None, [panel, blocks, turns], queue=False, **private))
    gr.api(_chat_api(respond), api_name="chat", api_visibility="undocumented")


def _with_question(question: str | None, messages: list[dict[str, Any]]) -> Any:
    """The question in its own bubble, as the text it is (HTML or Markdown in it is shown, never
    rendered)."""
    return [*(messages or []), {"role": "user", "content": render.question_markdown(question or "")}]


def _example(evt: gr.SelectData) -> tuple[list[dict[str, Any]], str]:
    text = str((evt.value or {}).get("text", "")) if isinstance(evt.value, dict) else str(evt.value or "")
    return [{"role": "user", "content": render.question_markdown(text)}], text


def _retried(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Retry: the last answer goes, its question is asked again."""
    messages = list(messages or [])
    while messages and messages[-1].get("role") == "assistant":
        messages.pop()
    question = render.question_text(messages[-1].get("content")) if messages else ""
    return messages, question


def _undone(
    messages: list[dict[str, Any]], blocks: Blocks, turns: Turns
) -> tuple[list[dict[str, Any]], str, str, Blocks, Turns]:
    """Undo: the last question and its answer leave the chat, its sources leave the panel, its
    turn leaves the conversation, and the question goes back into the box."""
    messages = list(messages or [])
    while messages and messages[-1].get("role") == "assistant":
        messages.pop()
    question = ""
    while messages and messages[-1].get("role") == "user":
        question = render.question_text(messages.pop().get("content")) + question
    latest = render.answer_count(messages)
    blocks = {t: b for t, b in (blocks or {}).items() if t <= latest}
    turns = {t: said for t, said in (turns or {}).items() if t <= latest}
    return messages, question, sources.panel(blocks, latest), blocks, turns


def _chat_api(respond: Any) -> Any:
    def chat(
        message: str, answerer: str, k: float, show_scores: bool, blocks: dict[Any, Any] | None = None
    ) -> Iterator[tuple[str, str]]:
        """The chat's answer as the page streams it: (answer Markdown so far, sources panel)."""
        asked = [{"role": "user", "content": render.question_markdown(message or "")}]
        for messages, shown, _, _ in respond(message or "", asked, answerer, k, show_scores, blocks or {}, {}):
            yield messages[-1]["content"], shown

    return chat


def _finished(messages: list[dict[str, Any]], blocks: Blocks, turns: Turns) -> tuple[Any, Any, Any, Any, Any]:
    """After an answer: one that was stopped before its end (no reply yet, or its sources still
    on their way) is marked as stopped, its sources panel says so, and it is a turn with the
    text it had; the box's submit button is back."""
    import gradio as gr

    ready = gr.update(submit_btn=True, stop_btn=False)
    messages = list(messages or [])
    turn = render.answer_count(messages)
    last = messages[-1] if messages else {}
    turns = dict(turns or {})
    if last.get("role") == "user":
        turn += 1
        messages.append({"role": "assistant", "content": render.stopped_markdown("")})
        turns.pop(turn, None)  # an earlier answer to this turn (retried), not this one
    elif not (last and sources.is_pending((blocks or {}).get(turn, ("", ""))[1])):
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), ready  # a whole answer, a hint or a failure
    else:
        text = render.message_text(last.get("content"))
        text = "" if text.startswith(render.STATUS_PREFIX) else text  # stopped before its first words
        messages[-1] = {**last, "content": render.stopped_markdown(text)}
    question = render.question_text(messages[-2].get("content")) if len(messages) > 1 else ""
    blocks = {**(blocks or {}), turn: (question, sources.STOPPED_HTML)}
    turns.setdefault(turn, (question, ""))  # respond keeps the text an answer has so far
    return messages, sources.panel(blocks, turn), blocks, turns, ready
