"""The fused int8 recipe of rag.embed_onnx: export a sentence-transformers model's transformer to
ONNX, fuse it, quantize it (issue 22, docs/benchmarks.md).

`torch.onnx.export(dynamo=True)`; onnxscript's `optimize_for_ort` fuses layer norms, GELUs and
attention (MultiHeadAttention), but not the step that packs Q, K and V into one `Attention` op,
whose weights the quantizer leaves in fp32; then onnxruntime's `quantize_dynamic` with int8
weights per channel (per tensor loses too much: cosine to torch 0.94 mean, 0.84 min on MiniLM).
Any BERT-like model of the transformers library: its inputs are the ones its tokenizer gives
(all-MiniLM-L6-v2: input_ids, attention_mask, token_type_ids; all-mpnet-base-v2: no
token_type_ids)."""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

from rag.errors import MissingDependency
from rag.settings import prepare_libraries

log = logging.getLogger(__name__)

TOKEN_TYPES = "token_type_ids"


def needs(package: str) -> Any:
    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingDependency(package.split(".")[0], "onnx") from None


def export(source: str, target: Path) -> Path:
    """Export the transformer of the sentence-transformers folder `source` to ONNX (fp32)."""
    needs("onnxscript")  # (the dynamo exporter's)
    prepare_libraries()  # before torch loads, as rag.embed does
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(source).eval()
    tok = AutoTokenizer.from_pretrained(source)
    names = [n for n in ("input_ids", "attention_mask", TOKEN_TYPES) if n in tok.model_input_names]

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            types = {} if token_type_ids is None else {TOKEN_TYPES: token_type_ids}
            return self.model(input_ids=input_ids, attention_mask=attention_mask, **types).last_hidden_state

    sample = tok(["an example", "a longer example sentence"], padding=True, return_tensors="pt")
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=512)
    target.parent.mkdir(parents=True, exist_ok=True)
    printed = io.StringIO()
    # the exporter prints its progress and warns about the names of the dynamic axes
    with contextlib.redirect_stdout(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder().eval(), (), str(target), kwargs={n: sample[n] for n in names},
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_shapes={n: {0: batch, 1: seq} for n in names}, dynamo=True, external_data=False)
    log.debug("%s", printed.getvalue())
    return target


def fuse(source: Path, target: Path) -> dict[str, int]:
    """onnxscript's ORT fusions, all but packing Q/K/V into one Attention op; the counts."""
    ir = needs("onnx_ir")
    _core = needs("onnxscript.rewriter.ort_fusions._core")

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


def quantize(source: Path, target: Path, per_channel: bool = True, keep: list[str] | None = None) -> Path:
    """int8 weights, activations quantized at run time (onnxruntime's dynamic quantization);
    the nodes named in `keep` stay in fp32."""
    quantization = needs("onnxruntime.quantization")
    needs("onnx")
    quiet = _Quiet()
    logging.getLogger().addFilter(quiet)
    try:
        quantization.quantize_dynamic(str(source), str(target), weight_type=quantization.QuantType.QInt8,
                                      per_channel=per_channel, nodes_to_exclude=keep or [])
    finally:
        logging.getLogger().removeFilter(quiet)
    return target


def after_gelu(model: Path) -> list[str]:
    """The MatMul nodes fed by a GELU: each layer's feed-forward output. Their input has outliers
    that one int8 scale per tensor (dynamic quantization) flattens: all-mpnet-base-v2 with them
    quantized falls to cosine 0.77 to torch, 0.99 with them in fp32 (check texts of
    rag.embed_onnx; all-MiniLM-L6-v2 needs no such help). Re-measure: `rag models install
    mpnet-onnx-int8` logs the all-int8 cosine before it quantizes again; docs/benchmarks.md."""
    onnx = needs("onnx")
    graph = onnx.load(str(model), load_external_data=False).graph
    produced_by = {out: node.op_type for node in graph.node for out in node.output}
    return [node.name for node in graph.node
            if node.op_type == "MatMul" and produced_by.get(node.input[0]) in ("Gelu", "BiasGelu", "FastGelu")]
