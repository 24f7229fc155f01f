"""Work done once per question (issue 20, point 4): the question is embedded once, though both the
retriever and the answerer need its vector, and a running knowledge base still sees a sync made by
another KnowledgeBase object on the same index."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.embed import Embedder
from rag.kb import KnowledgeBase
from rag.settings import Settings


class CountingEmbedder(Embedder):
    """The packaged model (already loaded by the session's embedder), recording what it encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded: list[str] = []

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.encoded.extend(texts)
        return super().encode(texts, progress)


def test_each_question_is_embedded_once_per_ask(articles_corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    counting = CountingEmbedder()
    settings = Settings.from_env(env={}, corpus_dir=articles_corpus, index_dir=tmp_path / "index",
                                 answerer="extractive")
    kb = KnowledgeBase(settings, embedder=counting)
    kb.sync(progress=False)
    for question in ("Who controls closed AI models?", "What licence does Llama use?"):
        before = len(counting.encoded)
        answer = kb.ask(question)
        assert answer.citations or answer.abstained  # the answerer scored the passages' sentences
        asked = counting.encoded[before:]
        searched = kb.lexical.respelled(question)  # "licence" is searched as the text spells it
        assert asked.count(searched) == 1, asked.count(searched)
        assert searched == question or question not in asked
    # the memo gives the model's own vector
    assert np.allclose(counting.embed_query("Who controls closed AI models?"),
                       embedder.embed_query("Who controls closed AI models?"), atol=1e-6)


def test_a_sync_by_another_object_on_the_same_index_is_seen(
    articles_corpus: Path, tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings.from_env(env={}, corpus_dir=articles_corpus, index_dir=tmp_path / "index",
                                 answerer="extractive")
    serving = KnowledgeBase(settings, embedder=embedder)
    serving.sync(progress=False)
    question = "When do the herds cross the Mara river?"
    assert all(h.chunk.source != "zebra.txt" for h in serving.search(question, k=3))
    (articles_corpus / "zebra.txt").write_text(
        "Zebras and giraffes share the savanna during the great migration. The herds cross the Mara "
        "river each August, and crocodiles wait for them at the crossings.\n", encoding="utf-8")
    KnowledgeBase(settings, embedder=embedder).sync(progress=False)
    for mode in ("dense", "bm25", "hybrid"):
        assert serving.search(question, k=3, mode=mode)[0].chunk.source == "zebra.txt", mode
