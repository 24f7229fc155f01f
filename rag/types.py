"""The typed records that flow between the pipeline stages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """A loaded file: `text` is what offsets point into."""

    source: str  # path relative to the corpus folder, with forward slashes
    text: str
    sha256: str  # of the file's bytes
    headings: tuple[tuple[int, int, str], ...] = ()  # (start, end, title) known from the format
    # PDF only: the offset in `text` where each page starts (page N starts at pages[N - 1]);
    # the page of an offset is `bisect.bisect_right(pages, offset)`. Empty for other formats.
    pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class Chunk:
    source: str
    section: str
    text: str
    start: int
    end: int

    @property
    def id(self) -> str:
        from hashlib import sha256

        key = f"{self.source}\x00{self.start}\x00{self.end}\x00{self.section}\x00{self.text}"
        return sha256(key.encode("utf-8")).hexdigest()[:32]

    def to_metadata(self) -> dict[str, str | int]:
        """What a store keeps beside the text (Chroma metadata, LangChain Document metadata,
        the BM25 build's chunks.jsonl): the one place a Chunk becomes a dict."""
        return {"source": self.source, "section": self.section, "start": self.start, "end": self.end}

    @classmethod
    def from_metadata(cls, text: str, meta: Mapping[str, Any]) -> Chunk:
        """The inverse of `to_metadata` (extra keys are ignored); a malformed record raises
        KeyError, TypeError or ValueError."""
        source, start, end = meta["source"], meta["start"], meta["end"]
        if not isinstance(text, str) or not isinstance(source, str):
            raise TypeError(f"a chunk's text and source must be strings, not {type(text).__name__}, "
                            f"{type(source).__name__}")
        return cls(source, str(meta.get("section") or ""), text, int(start), int(end))


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # the retriever's score: cosine similarity, BM25 score or fused score
    dense_score: float | None = None
    bm25_score: float | None = None


@dataclass(frozen=True)
class Citation:
    marker: int
    source: str
    section: str
    quote: str  # exactly the source text between start and end
    start: int
    end: int
    score: float
    chunk_text: str = ""
    chunk_start: int = 0
    page: int | None = None  # 1-based page of `start` in a paged source (PDF), else None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "marker": self.marker,
            "source": self.source,
            "section": self.section,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
        }
        if self.page is not None:
            data["page"] = self.page
        return data


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    standalone_question: str = ""
    unsupported: tuple[str, ...] = ()  # answer sentences no passage supports (llm answerer)
    answerer: str = ""  # the answerer that answered: extractive or llm (`auto` resolved)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
        if self.unsupported:
            data["unsupported"] = list(self.unsupported)
        if self.answerer:
            data["answerer"] = self.answerer
        return data


@dataclass(frozen=True)
class Progress:
    """What an answer is doing before its first words (KnowledgeBase.steps): "searching" the
    index, then "reading" `passages` retrieved passages."""

    stage: str
    passages: int = 0


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class SyncReport:
    added: int
    updated: int
    deleted: int
    unchanged: int
    chunks: int
    seconds: float
    skipped: tuple[Skipped, ...] = ()
    dry_run: bool = False
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    chunks_verified: int = 0  # chunks checked to be found by a query (those written, or all)
    chunks_repaired: int = 0  # of those, written again because no query found them
    partial: tuple[Skipped, ...] = ()  # documents indexed only in part, and why (rag.split.MAX_CHUNKS)

    def to_json(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "skipped": [s.to_json() for s in self.skipped],
            "dry_run": self.dry_run,
            "chunks_embedded": self.chunks_embedded,
            "chunks_deleted": self.chunks_deleted,
            "chunks_verified": self.chunks_verified,
            "chunks_repaired": self.chunks_repaired,
            "partial": [p.to_json() for p in self.partial],
        }

    def summary(self) -> str:
        """One line for people: what the sync changed (or would change), and how long it took."""
        verb = "would change" if self.dry_run else "synced"
        embedded = "to embed" if self.dry_run else "embedded"
        deleted = "to delete" if self.dry_run else "deleted"
        return (
            f"{verb}: {self.added} added, {self.updated} updated, {self.deleted} deleted, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped; {self.chunks} chunks in the index "
            f"({self.chunks_embedded} {embedded}, {self.chunks_deleted} {deleted}) in {self.seconds:.1f} s"
            + (f"; {len(self.partial)} indexed in part" if self.partial else "")
        )


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document, as listed in the UI."""

    source: str
    chunks: int
