"""An offline knowledge-base question answerer with exact citations.

`from rag import KnowledgeBase, Settings`: importing this package loads no model, torch or
chromadb; they load on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["KnowledgeBase", "RagError", "Settings"]

if TYPE_CHECKING:
    from rag.errors import RagError
    from rag.kb import KnowledgeBase
    from rag.settings import Settings


def __getattr__(name: str) -> Any:
    if name == "KnowledgeBase":
        from rag.kb import KnowledgeBase

        return KnowledgeBase
    if name == "Settings":
        from rag.settings import Settings

        return Settings
    if name == "RagError":
        from rag.errors import RagError

        return RagError
    raise AttributeError(name)
