"""The KnowledgeBase facade. The chain reads top to bottom:
question -> condense with history -> retrieve (hybrid) -> answer (extractive | llm) -> Answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.answer import Draft, Turn
from rag.components import Components
from rag.errors import RagError
from rag.types import Answer, DocumentInfo, Hit, Progress, SyncReport

log = logging.getLogger(__name__)


class KnowledgeBase(Components):
    """`sync()`, `search()`, `ask()` and `stream()` over one corpus folder and its index (its
    parts, loaded on first use: rag.components)."""

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
            self.forget_store()  # the collection was recreated
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
        return self._hits(self.lexical.respelled(self.check_question(question)), k, mode)

    def _hits(self, question: str, k: int | None = None, mode: str = "hybrid", lexical_extra: int = 0,
              title_extra: int = 0) -> list[Hit]:
        """The retriever's hits for a checked question (a condensed follow-up may be longer than
        the question limit: the limit is on what the user sent)."""
        from rag.store import is_store_failure, store_error

        for retry in (False, True):  # a store failure: the index is reopened once, then reported
            try:
                self.follower.follow()
                return self.retriever.hits(question, k or self.settings.k, mode=mode, lexical_extra=lexical_extra,
                                           title_extra=title_extra)
            except Exception as exc:
                if not is_store_failure(exc):
                    raise
                if retry:
                    raise store_error(exc, self.settings, "searching the index") from exc
                log.warning("search failed (%s: %s); reopening the index and retrying", type(exc).__name__, exc)
            self.forget_store()  # (a new client is opened under rag.store_client's lock)
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
        # (in the spelling of the indexed text: a British "licence" finds the "license" it wrote)
        standalone = self.lexical.respelled(self.condense(question, history, name))
        from rag.retrieve import ANSWER_LEXICAL_EXTRA, TITLE_EXTRA

        # the extra passages are read when the reader did not choose how many: a k the reader
        # chose (the web chat's slider, the API's `k`) is what the answer reads
        chose = k is not None and k != self.settings.k
        hits = self._hits(standalone, k, lexical_extra=0 if chose else ANSWER_LEXICAL_EXTRA,
                          title_extra=0 if chose else TITLE_EXTRA)
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
