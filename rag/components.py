"""What a knowledge base is made of, each part loaded on first use: the embedder, the vector store
(reopened when a sync changed the index), the BM25 index, the hybrid retriever, the sentence
scorer and the answerers. rag.kb.KnowledgeBase builds the chain on them."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from rag.answer import Answerer
from rag.errors import ConfigError
from rag.follow import Follower
from rag.settings import AUTO, Settings

if TYPE_CHECKING:  # the classes only: their modules load torch, chromadb and LangChain
    from langchain_chroma import Chroma

    from rag.answer.scorer import SentenceScorer
    from rag.embed import Embedder
    from rag.lexical import Bm25Index
    from rag.retrieve import HybridRetriever

log = logging.getLogger(__name__)


class Components:
    """The parts of one knowledge base, loaded on first use and shared by its questions."""

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        """`embedder`: an already loaded `rag.embed.Embedder` to share between knowledge bases;
        by default the settings' model, loaded on first use."""
        self.settings = settings or Settings.from_env()
        self._embedder = embedder
        self._store: Chroma | None = None
        self._lexical: Bm25Index | None = None
        self._retriever: HybridRetriever | None = None
        self._scorer: SentenceScorer | None = None
        self._answerers: dict[str, Answerer] = {}
        self._auto: str | None = None  # what `auto` resolved to, decided once
        self._store_lock = threading.Lock()
        self._store_version = ""
        # with a Chroma server: other front ends' syncs reach this one's BM25 (rag.follow)
        self.follower = Follower(self.settings, lambda: self.store)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from rag.embed import Embedder
            from rag.models import embedding_model_path, models_dir

            self._embedder = Embedder(
                embedding_model_path(self.settings), self.settings.embed_backend, self.settings.embed_batch_size,
                models_dir(self.settings),
            )
        return self._embedder

    @property
    def store(self) -> Chroma:
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
    def lexical(self) -> Bm25Index:
        if self._lexical is None:
            from rag.lexical import Bm25Index

            self._lexical = Bm25Index(self.settings.index_dir / "lexical")
        return self._lexical

    @property
    def retriever(self) -> HybridRetriever:
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

    @property
    def scorer(self) -> SentenceScorer:
        """The sentence scorer both answerers read (one per knowledge base, so that a question's
        sentences are scored once, and each passage sentence embedded once, whichever answers)."""
        if self._scorer is None:
            from rag.answer.scorer import SentenceScorer

            self._scorer = SentenceScorer(self.embedder, self.lexical, threshold=self.settings.abstain_threshold)
        return self._scorer

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

                self._answerers[name] = ExtractiveAnswerer(self.scorer)
            else:
                from rag.answer.llm import LLMAnswerer

                self._answerers[name] = LLMAnswerer.from_settings(self.settings, self.scorer)
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

    def forget_store(self) -> None:
        """Make the next use open a new client (after a rebuild recreated the collection, or a
        store failure)."""
        with self._store_lock:
            self._store = self._retriever = None
