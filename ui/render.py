"""Pure rendering helpers for the chat messages: an Answer to Markdown with `[n]` links to its
own sources, unsupported sentences marked, error and stopped replies. The conversation itself
is kept as data (ui.chat.Turns), never read back from this Markdown.

Everything that comes from a document is escaped: source text is shown as the text it is,
never interpreted as HTML or Markdown."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rag.text import BARE_MARKER, MARKER_NUMBER
from rag.types import Answer, DocumentInfo, Progress

ABSTAINED_BANNER = "> ⚠️ **Not answered from the knowledge base**\n>\n"
# symbols DejaVu Sans (Debian's default font) has: ⛔, ⏳ and ⏹ were empty boxes in Chromium without an emoji font
ERROR_PREFIX = "✖ **The answer failed:** "
HINT_PREFIX = "ℹ️ "
STATUS_PREFIX = "◷ "  # what an answer is doing before its first words (never an answer itself)
EMPTY_HINT = HINT_PREFIX + "Type a question first\\."
STOPPED_NOTE = "\n\n■ *Stopped: the answer is not complete\\.*"
UNSUPPORTED_MARK = "⚠️"
UNSUPPORTED_NOTE = f"\n\n{UNSUPPORTED_MARK} *marks a sentence that no source supports\\.*"
# heads an answer of quotes where the session chose the llm answerer (its fallback: the model's
# reply had no supported sentence, or it said the passages do not answer)
FALLBACK_NOTES = {
    True: HINT_PREFIX + "*Quoted from the documents: the model's answer was not supported by them\\.*\n\n",
    False: HINT_PREFIX + "*Quoted from the documents: the model gave no answer from them\\.*\n\n",
}

# ASCII punctuation Markdown may act on; `&`, `<` and `>` are turned into entities instead
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$=])")
# a marker as `answer_markdown` writes it, a link to its source entry ("[\[3\]](#a2-source-3)"),
# a flagged sentence and an escaped character: the copy button's JavaScript (ui/page.py), which
# copies an answer as plain text, gets these patterns as they are (each works in both languages)
LINK_PATTERN = r"\[\\\[(" + MARKER_NUMBER + r")\\\]\]\(#a\d+-source-\d+\)"
FALLBACK_PATTERN = "^" + re.escape(HINT_PREFIX) + r"\*Quoted from the documents: [^*]*\*\n\n"
FLAGGED_PATTERN = re.escape(UNSUPPORTED_MARK) + r" \*((?:\\.|[^\\*])*)\*"
UNESCAPE_PATTERN = r"\\([\s\S])"
_UNESCAPE = re.compile(UNESCAPE_PATTERN)


def anchor(turn: int, marker: int) -> str:
    """The HTML id of a citation's entry in the sources panel: answer `turn`, marker `[n]`."""
    return f"a{turn}-source-{marker}"


def escape_markdown(text: str) -> str:
    """`text` as Markdown that renders as exactly that text."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=False)


def unescape_markdown(markdown: str) -> str:
    """The inverse of `escape_markdown`."""
    return _UNESCAPE.sub(r"\1", html.unescape(markdown))


def question_markdown(question: str) -> str:
    """A question for its chat bubble: shown as the text it is, HTML and Markdown in it too."""
    return escape_markdown(question)


def question_text(content: Any) -> str:
    """The question back from its chat bubble (the inverse of `question_markdown`)."""
    return unescape_markdown(message_text(content))


def _with_links(text: str, known: set[int], turn: int) -> str:
    parts: list[str] = []
    pos = 0
    for m in BARE_MARKER.finditer(text):
        n = int(m.group(1))
        if n not in known:
            continue
        parts.append(escape_markdown(text[pos : m.start()]))
        parts.append(f"[\\[{n}\\]](#{anchor(turn, n)})")
        pos = m.end()
    parts.append(escape_markdown(text[pos:]))
    return "".join(parts)


def answer_markdown(
    text: str, markers: Sequence[int] = (), abstained: bool = False, *, turn: int = 1,
    unsupported: Sequence[str] = (),
) -> str:
    """Answer text as Markdown: the text escaped, each `[n]` in `markers` a link to its source
    entry, each sentence in `unsupported` flagged; an abstained answer as a quoted block under
    a warning banner."""
    known = set(markers)
    pieces: list[str] = []
    pos = 0
    for sentence in dict.fromkeys(s.strip() for s in unsupported if s.strip()):
        at = text.find(sentence, pos)
        if at < 0:
            continue
        pieces.append(_with_links(text[pos:at], known, turn))
        pieces.append(f"{UNSUPPORTED_MARK} *{_with_links(sentence, known, turn)}*")
        pos = at + len(sentence)
    flagged = bool(pieces)
    pieces.append(_with_links(text[pos:], known, turn))
    body = "".join(pieces)
    if abstained:
        return ABSTAINED_BANNER + "\n".join(f"> {line}" for line in body.split("\n"))
    return body + (UNSUPPORTED_NOTE if flagged else "")


def render_answer(answer: Answer, turn: int = 1, asked: str = "") -> str:
    """The answer's Markdown; headed by a note when `asked`, the answerer the session chose, was
    llm and the extractive answerer's quotes came instead."""
    body = answer_markdown(answer.text, [c.marker for c in answer.citations], answer.abstained,
                           turn=turn, unsupported=answer.unsupported)
    fell_back = asked == "llm" and answer.answerer == "extractive" and not answer.abstained
    return (FALLBACK_NOTES[bool(answer.unsupported)] if fell_back else "") + body


def error_markdown(message: str) -> str:
    """An answer that failed, as a one-line chat reply marked as an error."""
    return ERROR_PREFIX + escape_markdown(message.strip().splitlines()[0] if message.strip() else "unknown error")


def progress_text(progress: Progress) -> str:
    """What an answer is doing, in words: "Searching the knowledge base…", "Reading 7 passages…"."""
    if progress.stage == "reading":
        noun = "passage" if progress.passages == 1 else "passages"
        return f"Reading {progress.passages} {noun}…"
    return "Searching the knowledge base…"


def progress_markdown(progress: Progress) -> str:
    """The chat's reply while an answer has no words yet."""
    return f"{STATUS_PREFIX}*{escape_markdown(progress_text(progress))}*"


def stopped_markdown(markdown: str) -> str:
    return markdown if markdown.endswith(STOPPED_NOTE) else markdown + STOPPED_NOTE


def documents_rows(documents: Sequence[DocumentInfo]) -> list[list[Any]]:
    return [[d.source, d.chunks] for d in documents]


def sync_status(last_sync: str, documents: Sequence[DocumentInfo]) -> str:
    """What the knowledge base holds, one Markdown line for the page header."""
    chunks = sum(d.chunks for d in documents)
    when = escape_markdown(_readable_time(last_sync)) if last_sync else "never"
    noun = "document" if len(documents) == 1 else "documents"
    return f"{len(documents)} {noun}, {chunks} passages, last synced {when}"


def answerer_line(name: str) -> str:
    """The header's line under the status: the answerer this page's answers use (chosen in the
    Settings; the word is not repeated here: one thing on the page is called Settings)."""
    return f"Answers by the **{escape_markdown(name)}** answerer\\."


# what each answerer does, for the Settings dropdown and the line under an answer's sources
ANSWERER_WORDS = {
    "llm": "a language model writes the answer from the best passages; each sentence is checked against its source",
    "extractive": "the answer is sentences quoted from the best passages",
}


def answerer_info(default: str, offered: Sequence[str], auto: bool, no_model: bool = False) -> str:
    """The Settings dropdown's note: what the default answerer does, why it was chosen, what
    the others offered do, and, when the llm answerer is not offered, why (`no_model`: no
    language model is set up here, else the operator left it out) and how to get it."""
    words = ANSWERER_WORDS.get(default, "")
    if "llm" not in offered:
        if no_model:
            return (f"{default}: {words}. The llm answerer, where a language model writes the answer, is not "
                    "available: no language model is set up on this server. To get it, install one with "
                    "`rag models install qwen-1.5b` (1.1 GB; `make run` does it) or set RAG_LLM_BASE_URL to "
                    "an OpenAI-compatible server, then restart the server.")
        return (f"{default}: {words}. The llm answerer, where a language model writes the answer, is "
                "turned off on this server by its operator (`rag serve --answerers`).")
    why = ""
    if auto:
        why = " (chosen: a language model is set up)" if default == "llm" else " (chosen: no language model is set up)"
    # the others too: the note stays as it is when another answerer is chosen
    others = "".join(f" {name}: {ANSWERER_WORDS.get(name, '')}." for name in offered if name != default)
    how = (" The llm answerer needs a language model: install one with `rag models install qwen-1.5b` "
           "(1.1 GB) or set RAG_LLM_BASE_URL, then restart the server.") if no_model and default != "llm" else ""
    return f"{default}, the default{why}: {words}.{others}{how}"


def _readable_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return iso


def message_text(content: Any) -> str:
    """The text of a Gradio chat message's content: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", "")) if content.get("type", "text") == "text" else ""
    if isinstance(content, (list, tuple)):
        return "".join(message_text(part) for part in content)
    return ""


def answer_count(messages: Sequence[dict[str, Any]]) -> int:
    """How many assistant replies the chat holds (the next answer's turn is this plus one)."""
    return sum(1 for m in messages if m.get("role") == "assistant")


def public_message(exc: BaseException, folders: Sequence[Path]) -> str:
    """An error's message for a web client: the server's absolute folder paths (the index, the
    corpus) are named by their role, not shown."""
    text = str(exc)
    for folder, role in zip(folders, ("the index folder", "the corpus folder"), strict=False):
        for form in sorted({str(folder.resolve()), str(folder.absolute()), str(folder)}, key=len, reverse=True):
            if form not in (".", ""):
                text = text.replace(form, role)
    return text
