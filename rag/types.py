"""The typed records that flow between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    supported: bool = True
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
        return data


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
        }


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document, as listed in the UI."""

    source: str
    chunks: int
