"""LangChain's own standard tests for retrievers (`langchain-tests`), run over the knowledge
base's retriever on a small corpus: what any LangChain user may expect of a retriever
(documents back, the number of results from the constructor's `k` and from `invoke(q, k=n)`,
async as well) holds for `kb.retriever`."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from rag.embed import Embedder
from rag.kb import KnowledgeBase
from rag.retrieve import HybridRetriever
from rag.settings import Settings

# five short documents on five subjects: every query finds more than three passages
DOCUMENTS = {
    "lighthouses.md": "# Lighthouses\n\nA lighthouse keeper trimmed the lamp at dusk and logged the ships seen.\n",
    "bees.md": "# Bees\n\nHoney bees dance to tell the hive where the flowers are.\n",
    "volcanoes.md": "# Volcanoes\n\nA volcano erupts when magma rises through the crust.\n",
    "tides.md": "# Tides\n\nThe moon's pull raises the tides twice a day on most coasts.\n",
    "bread.md": "# Bread\n\nYeast makes bread dough rise by turning sugar into gas.\n",
}


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("standard")
    (root / "corpus").mkdir()
    for name, text in DOCUMENTS.items():
        (root / "corpus" / name).write_text(text, encoding="utf-8")
    kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=root / "corpus", index_dir=root / "index"),
                       embedder=embedder)
    assert kb.sync(progress=False).chunks == len(DOCUMENTS)
    return kb


class TestKnowledgeBaseRetriever(RetrieversIntegrationTests):
    kb: KnowledgeBase

    @pytest.fixture(autouse=True)
    def _small_kb(self, small_kb: KnowledgeBase) -> None:
        self.kb = small_kb

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        """What KnowledgeBase.retriever builds its retriever from."""
        r = self.kb.retriever
        return {"store": r.store, "embedder": r.embedder, "lexical": r.lexical, "k": r.k,
                "dense_weight": r.dense_weight, "rrf_k": r.rrf_k}

    @property
    def retriever_query_example(self) -> str:
        return "Who trimmed the lamp of the lighthouse?"

    @pytest.fixture
    def retriever(self) -> BaseRetriever:
        return self.kb.retriever


def test_invoke_k_is_honoured_and_the_default_stays(small_kb: KnowledgeBase) -> None:
    """`invoke(q, k=1)` used to return the retriever's default k (5) documents: LangChain drops
    keyword arguments that `_get_relevant_documents` does not name."""
    retriever = small_kb.retriever
    question = "Why does bread dough rise?"
    assert [d.metadata["source"] for d in retriever.invoke(question, k=1)] == ["bread.md"]
    assert len(retriever.invoke(question, k=2)) == 2
    assert len(retriever.invoke(question)) == retriever.k == 5


def test_the_standard_suite_is_collected() -> None:
    """The class above runs LangChain's standard tests (not zero of them)."""
    names = {n for n in dir(TestKnowledgeBaseRetriever) if n.startswith("test_")}
    assert {"test_invoke_with_k_kwarg", "test_k_constructor_param", "test_invoke_returns_documents",
            "test_ainvoke_returns_documents"} <= names
