"""The KnowledgeBase facade. The chain reads top to bottom:
question -> condense with history -> retrieve (hybrid) -> answer (extractive | llm) -> Answer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.answer import Answerer, Draft, Turn
from rag.errors import ConfigError, RagError
from rag.follow import Follower
from rag.settings import AUTO, Settings
from rag.types import Answer, DocumentInfo, Hit, Progress, SyncReport

log = logging.getLogger(__name__)


class KnowledgeBase:
    """`sync()`, `search()`, `ask()` and `stream()` over one corpus folder and its index."""

    def __init__(self, settings: Settings | None = None, *, embedder: Any = None) -> None:
        """`embedder`: an already loaded `rag.embed.Embedder` (or any LangChain `Embeddings` with
        `encode`) to share between knowledge bases; by default the settings' model, loaded on
        first use."""
        self.settings = settings or Settings.from_env()
        self._embedder: Any = embedder
        self._store: Any = None
        self._lexical: Any = None
        self._retriever: Any = None
        self._answerers: dict[str, Answerer] = {}
        self._auto: str | None = None  # what `auto` resolved to, decided once
        self._store_lock = threading.Lock()
        self._store_version = ""
        # with a Chroma server: other front ends' syncs reach this one's BM25 (rag.follow)
        self.follower = Follower(self.settings, lambda: self.store)

    # -- components, loaded on first use ---------------------------------------------------
    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from rag.embed import Embedder
            from rag.models import embedding_model_path, models_dir

            self._embedder = Embedder(
                embedding_model_path(self.settings), self.settings.embed_backend, self.settings.embed_batch_size,
                models_dir(self.settings),
            )
        return self._embedder

    @property
    def store(self) -> Any:
        """The vector store; reopened when a sync (maybe in another process) changed the index,
        because an embedded Chroma client does not see another client's writes. The check costs
        a stat of BM25's `current` pointer (Bm25Index.current_version), read again only when a
        sync replaced it."""
        with self._store_lock:
            version = self.lexical.current_version()
            stale = version != self._store_version and not self.settings.chroma_url
            if self._store is None or stale:
                from rag.store import fresh_client, vector_store

                if self._store is not None:
                    log.info("the index changed on disk; reopening it")
                client = fresh_client(self.settings, create=False)
                self._store = vector_store(self.settings, self.embedder, client)
                self._store_version = version
                self._retriever = None
            return self._store

    @property
    def lexical(self) -> Any:
        if self._lexical is None:
            from rag.lexical import Bm25Index

            self._lexical = Bm25Index(self.settings.index_dir / "lexical")
        return self._lexical

    @property
    def retriever(self) -> Any:
        """The hybrid retriever, a LangChain `BaseRetriever`."""
        store = self.store  # first: it resets the retriever when it reopens
        if self._retriever is None:
            from rag.index import Manifest
            from rag.model_check import check_model
            from rag.retrieve import HybridRetriever, load_reranker

            s = self.settings
            # a query embedded by another model than the index's vectors finds nonsense (or fails)
            check_model(Manifest.read(s.index_dir).embedding, store, self.embedder, s.chroma_url or str(s.index_dir))
            self._retriever = HybridRetriever.from_settings(
                s, store=store, embedder=self.embedder, lexical=self.lexical,
                reranker=load_reranker(s.reranker) if s.reranker else None,
            )
        return self._retriever

    def answerer_name(self, name: str | None = None) -> str:
        """The answerer that answers when `name` (by default the settings' answerer) is asked
        for: `auto` becomes `llm` or `extractive` (rag.models.resolve_answerer), decided on first
        use and kept, so that a model installed meanwhile does not switch a running server."""
        name = name or self.settings.answerer
        if name != AUTO:
            return name
        if self._auto is None:
            from rag.models import resolve_answerer

            self._auto = resolve_answerer(self.settings, AUTO)
            log.info("answerer auto: %s", self._auto)
        return self._auto

    def answerer(self, name: str | None = None) -> Answerer:
        name = self.answerer_name(name)
        offered = self.settings.offered_answerers
        if name not in offered:
            raise ConfigError(f"the answerer {name!r} is not offered here: choose {' or '.join(offered)}")
        if name not in self._answerers:
            if name == "extractive":
                from rag.answer.extractive import ExtractiveAnswerer

                self._answerers[name] = ExtractiveAnswerer(
                    self.embedder, self.lexical, threshold=self.settings.abstain_threshold
                )
            else:
                from rag.answer.llm import LLMAnswerer

                self._answerers[name] = LLMAnswerer.from_settings(self.settings, self.embedder, self.lexical)
        return self._answerers[name]

    def warm(self, max_chunks: int = 5000) -> None:
        """Load the model and the index now, and embed the sentences of a small corpus ahead
        of the first question (what `rag serve` and `rag ask --batch` do at start-up)."""
        self.embedder.embed_query("warm up")
        self.follower.follow()
        self.retriever  # noqa: B018 - opens the store and BM25
        answerer = self.answerer()
        self.lexical.refresh()
        chunks = self.lexical.chunks
        if len(chunks) <= max_chunks:
            answerer.warm([(c.section, c.text) for c in chunks])

    # -- indexing ------------------------------------------------------------------------
    def sync(
        self,
        *,
        dry_run: bool = False,
        rebuild: bool = False,
        progress: bool | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> SyncReport:
        """Bring the index up to date with the corpus folder; `on_progress(done, total)` is
        called as chunks go through indexing."""
        from rag.index import sync

        report = sync(self.settings, self.embedder, dry_run=dry_run, full_rebuild=rebuild, progress=progress,
                      on_progress=on_progress)
        if rebuild:
            self._store = self._retriever = None  # the collection was recreated
        if not dry_run and self.settings.chroma_url:
            self.follower.stamp(bool(report.chunks_embedded or report.chunks_deleted or rebuild))
        return report

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents and their chunk counts: from this index folder's manifest, or
        with a Chroma server, from the collection as BM25 mirrors it (another front end may
        have synced since this one did)."""
        if self.settings.chroma_url:
            from collections import Counter

            self.follower.follow()
            self.lexical.refresh()
            counts = Counter(c.source for c in self.lexical.chunks)
            return [DocumentInfo(src, n) for src, n in sorted(counts.items())]
        from rag.index_folder import Manifest

        manifest = Manifest.read(self.settings.index_dir)
        return [DocumentInfo(src, int(m.get("chunks", 0))) for src, m in sorted(manifest.documents.items())]

    def last_sync(self) -> str:
        from rag.index_folder import Manifest

        return Manifest.read(self.settings.index_dir).synced_at

    def add_file(self, name: str, data: bytes, *, replace: bool = False) -> Path:
        """Save an uploaded file into the corpus folder (see rag.uploads); sync to index it."""
        from rag import uploads

        return uploads.add_file(self.settings, name, data, replace=replace)

    def delete_file(self, name: str) -> Path:
        """Remove a document from the corpus folder (see rag.uploads); sync to unindex it."""
        from rag import uploads

        return uploads.delete_file(self.settings, name)

    # -- the chain -----------------------------------------------------------------------
    def condense(self, question: str, history: Sequence[Turn] = (), answerer: str | None = None) -> str:
        """A standalone version of a follow-up question, made by the answerer (the llm answerer
        rewrites it; the extractive one carries the previous question's key terms over)."""
        if not history:
            return question
        return self.answerer(answerer).condense(question, history)

    def search(self, question: str, k: int | None = None, mode: str = "hybrid") -> list[Hit]:
        return self._hits(self.check_question(question), k, mode)

    def _hits(self, question: str, k: int | None = None, mode: str = "hybrid", lexical_extra: int = 0) -> list[Hit]:
        """The retriever's hits for a checked question (a condensed follow-up may be longer than
        the question limit: the limit is on what the user sent)."""
        from rag.store import is_store_failure, store_error

        for retry in (False, True):  # a store failure: the index is reopened once, then reported
            try:
                self.follower.follow()
                return self.retriever.hits(question, k or self.settings.k, mode=mode, lexical_extra=lexical_extra)
            except Exception as exc:
                if not is_store_failure(exc):
                    raise
                if retry:
                    raise store_error(exc, self.settings, "searching the index") from exc
                log.warning("search failed (%s: %s); reopening the index and retrying", type(exc).__name__, exc)
            with self._store_lock:
                self._store = None  # the next use opens a new client (under rag.store's client lock)
        raise AssertionError("unreachable")

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        k: int | None = None,
        answerer: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yield pieces of the answer text, then the final Answer."""
        for piece in self.steps(question, history, k=k, answerer=answerer):
            if not isinstance(piece, Progress):
                yield piece

    def steps(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        k: int | None = None,
        answerer: str | None = None,
    ) -> Iterator[Progress | str | Answer]:
        """`stream`, with what the answer is doing before its first words: Progress("searching"),
        then Progress("reading", passages=N) once the passages are retrieved (the web chat
        shows them while a language model reads its prompt)."""
        began = time.perf_counter()
        question = self.check_question(question)
        history = [(self.check_question(q, "an earlier question"), str(a)) for q, a in history]
        name = self.answerer_name(answerer)
        chosen = self.answerer(name)
        yield Progress("searching")
        standalone = self.condense(question, history, name)
        from rag.retrieve import ANSWER_LEXICAL_EXTRA

        hits = self._hits(standalone, k, lexical_extra=ANSWER_LEXICAL_EXTRA)
        retrieved = time.perf_counter()
        yield Progress("reading", passages=len(hits))
        draft: Draft | None = None
        first: float | None = None  # when the first piece of text came
        for piece in chosen.stream(standalone, hits, history):
            if isinstance(piece, Draft):
                draft = piece
            else:
                first = first or time.perf_counter()
                yield piece
        assert draft is not None
        from rag.documents import with_pages

        citations = with_pages(self.settings.corpus_dir, draft.citations)
        done = time.perf_counter()
        yield Answer(
            question=question,
            text=draft.text,
            citations=citations,
            abstained=draft.abstained,
            timings_ms={
                "retrieve": (retrieved - began) * 1000,
                "answer": (done - retrieved) * 1000,
                "total": (done - began) * 1000,
                "first_token": ((first or done) - began) * 1000,
            },
            standalone_question=standalone,
            unsupported=draft.unsupported,
            answerer=draft.answerer or name,
        )

    def ask(self, question: str, history: Sequence[Turn] = (), **kwargs: Any) -> Answer:
        last: str | Answer | None = None
        for last in self.stream(question, history, **kwargs):
            pass
        assert isinstance(last, Answer)
        return last

    def check_question(self, question: object, what: str = "the question") -> str:
        """The question as clean text, or a RagError that says what is wrong with it."""
        if not isinstance(question, str):
            raise RagError(f"{what} must be text, not {type(question).__name__}")
        # lone surrogates (from a terminal's undecodable bytes or a JSON "\ud800") are no text
        question = question.encode("utf-8", "replace").decode("utf-8")
        if not question.strip():
            raise RagError(f"{what} is empty")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise RagError(f"{what} is {len(question):,} characters long; ask in at most {limit:,}")
        return question
