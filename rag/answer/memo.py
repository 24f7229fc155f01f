"""The scorer's two caches: the vectors of passage sentences (the same passages come back
often) and the last questions' scored sentences (the gate, the evidence and the fallback of
one question read the same ones)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

V = TypeVar("V")

# How many questions' scored sentences are kept (by question, hits and index version). A memory
# bound, not tuned: a few questions answered at once by a server fit in it.
SCORED_MEMO = 32
# Passage sentences whose vectors are kept before the cache starts again: a memory bound (about
# 300 MB of MiniLM's 384 floats), not tuned.
MAX_CACHED_VECTORS = 200_000


class Memo(Generic[V]):
    """The values of the last `size` keys, safe to share between threads."""

    def __init__(self, size: int = SCORED_MEMO) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._kept.get(key)
            if value is not None:
                self._kept.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._kept[key] = value
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


class VectorCache:
    """Embeddings of texts by `encode`, each text embedded once until MAX_CACHED_VECTORS."""

    def __init__(self, encode: Callable[[list[str]], object], limit: int = MAX_CACHED_VECTORS) -> None:
        self.encode = encode
        self.limit = limit
        self._vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            if len(self._vectors) > self.limit:
                self._vectors.clear()
            self._vectors.update(zip(missing, np.asarray(self.encode(missing)), strict=True))
        return np.stack([self._vectors[t] for t in texts])
