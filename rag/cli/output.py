"""What every command shares: the settings from the flags, and output for people and programs
(JSON lines on standard output, terminal text with its control characters escaped)."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import unicodedata
from typing import Any

from rag.settings import Settings


def settings_from(args: argparse.Namespace) -> Settings:
    """Defaults, then RAG_* variables, then the flags given."""
    return Settings.from_env(
        corpus_dir=getattr(args, "corpus", None),
        index_dir=getattr(args, "index", None),
        chroma_url=getattr(args, "chroma_url", None),
        answerer=getattr(args, "answerer", None),
        k=getattr(args, "k", None),
        reranker=getattr(args, "reranker", None),
        auth=getattr(args, "auth", None),
        auth_file=getattr(args, "auth_file", None),
        answerers=getattr(args, "answerers", None),
        read_only=True if getattr(args, "read_only", False) else None,
    )


def emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


# C0 and C1 controls other than newline and tab, DEL, and the bidi overrides: a document or a
# file name could otherwise move the cursor, recolour or retitle the terminal, or hide text
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: object) -> str:
    """Text for a terminal: control characters shown as escapes, never sent raw."""
    return _UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), str(text))


def safe_line(text: object) -> str:
    """Text for one terminal line (a file name, a log message): control characters, newlines,
    format characters such as bidi and zero-width marks, and line separators shown as escapes."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _HIDDEN else ch
        for ch in str(text)
    )


_HIDDEN = frozenset(["Cc", "Cf", "Cs", "Zl", "Zp"])  # as rag.uploads refuses in names


def say(text: object = "") -> None:
    print(safe(text))


class SafeFormatter(logging.Formatter):
    """Log records on one line each, escaped (a skipped file's name is in the message); a
    traceback still follows on its own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return safe_line(super().formatMessage(record))
