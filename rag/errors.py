"""One error family. Only the CLI and the UI turn these into messages for people."""

from __future__ import annotations


class RagError(Exception):
    """Base of every error the knowledge base raises on purpose; the message says what to do."""

    exit_code = 1


class ConfigError(RagError):
    """A setting or flag is invalid."""

    exit_code = 2


class LoadError(RagError):
    """One input file could not be read; the sync reports it and goes on."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class StoreError(RagError):
    """The index is missing, unreadable or cannot be written."""

    exit_code = 3


class ModelMismatch(StoreError):
    """The index holds vectors of another embedding model than the one configured."""


class MissingDependency(RagError):
    """An optional backend is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed. Install it with: pip install 'rag-kb[{extra}]'"
        )


class AnswererError(RagError):
    """The answerer (for example a remote LLM server) failed."""

    exit_code = 4
