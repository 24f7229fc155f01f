"""RAG_EMBED_BACKEND=onnx-int8: the packaged model exported, fused and quantized once into the
models folder (about 20 s here, once per session), its vectors close to torch's, a model that
changed or strays from torch refused (torch embeds instead), and an index never mixing its
vectors with torch's."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES

from rag.cli import main
from rag.embed import Embedder, packaged_model_path
from rag.embed_onnx import FOLDER, NAME, installed_target, sha256_of
from rag.errors import ConfigError, ModelMismatch
from rag.kb import KnowledgeBase
from rag.models import EMBEDDING, InstalledModel, installed, record
from rag.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def int8_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding the int8 model, built through the backend's first use."""
    directory = tmp_path_factory.mktemp("int8-models")
    Embedder(backend="onnx-int8", models_dir=directory).embed_query("build it")
    return directory


@pytest.fixture
def copy_models(int8_dir: Path, tmp_path: Path) -> Callable[[], Path]:
    """A copy of the built models folder, recorded at its new place, for a test to damage."""

    def copy() -> Path:
        target = tmp_path / "models"
        shutil.copytree(int8_dir / FOLDER, target / FOLDER)
        model = installed(int8_dir)[NAME]
        record(target, replace(model, path=target / FOLDER / model.path.name))
        return target

    return copy


@pytest.fixture
def installed_int8(int8_dir: Path, tmp_path: Path) -> Callable[[str], tuple[Path, str]]:
    """A models folder where an embedding model is installed as `mpnet` (the packaged MiniLM's
    folder stands in for it: exporting all-mpnet-base-v2 takes minutes), with its int8 model
    built (the recipe's output for that folder: the packaged model's, copied) and recorded as
    `rag models install mpnet-onnx-int8` records it; the folder and the source model's path."""

    def make(folder: str) -> tuple[Path, str]:
        directory = tmp_path / folder
        source = InstalledModel("mpnet", Path(packaged_model_path()), 1, "f" * 64, kind=EMBEDDING)
        directory.mkdir()
        record(directory, source)
        target = installed_target(source)
        shutil.copytree(int8_dir / FOLDER, directory / target.folder)
        built = replace(installed(int8_dir)[NAME], name=target.name, path=directory / target.folder / "model.onnx",
                        source=target.version)
        record(directory, built)
        return directory, source.path.as_posix()

    return make


def perturb(path: Path) -> None:
    """Scale the fp32 weights of the ONNX model at `path` by random factors (as a bad
    quantization would stray)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype == np.float32 and values.size >= 384:
            noisy = values * (1 + 0.3 * rng.standard_normal(values.shape)).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(noisy, init.name))
    onnx.save(model, str(path))


def paragraphs(n: int) -> list[str]:
    """Real text of the kind an index holds: the first paragraphs of the two articles."""
    out = []
    for path in ARTICLES:
        out += [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 80][:n]
    return out


def test_int8_vectors_are_close_to_torch(int8_dir: Path, embedder: Embedder) -> None:
    int8 = Embedder(backend="onnx-int8", models_dir=int8_dir)
    assert int8.identity == "all-MiniLM-L6-v2+onnx-int8" and int8.dimension == 384
    texts = [*paragraphs(4), "What is the difference between open and closed AI?", "Who trains open models?"]
    mine, theirs = int8.encode(texts), embedder.encode(texts)
    assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    cos = np.sum(mine * theirs, axis=1)
    assert cos.min() >= 0.98, cos
    # alone, a query's activations are quantized on their own range (dynamic quantization is
    # per batch), so its vector is not the batched one, but it is as close to torch's
    alone = np.asarray(int8.embed_query(texts[-1]), dtype=np.float32)
    assert float(alone @ theirs[-1]) >= 0.98 and float(alone @ mine[-1]) >= 0.98


def test_int8_keeps_the_models_256_tokens(int8_dir: Path, embedder: Embedder) -> None:
    """tokenizer.json truncates at 128 tokens: two texts that differ only after ~150 tokens
    must still get different vectors, as torch gives them."""
    head = " ".join(paragraphs(6))
    words = head.split()[:130]
    assert len(words) == 130
    a, b = " ".join([*words, "apples and pears"]), " ".join([*words, "compilers and kernels"])
    int8 = Embedder(backend="onnx-int8", models_dir=int8_dir).encode([a, b])
    assert float(int8[0] @ int8[1]) < 0.9999
    assert np.sum(int8 * embedder.encode([a, b]), axis=1).min() >= 0.98


def test_a_changed_model_file_is_refused_and_torch_embeds(
    copy_models: Callable[[], Path], embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    directory = copy_models()
    path = directory / FOLDER / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="rag.embed"):
        e = Embedder(backend="onnx-int8", models_dir=directory)
        vector = e.embed_query("What is open source AI?")
    assert "refusing the int8 embedding model" in caplog.text and "sha256" in caplog.text
    assert f"rag models install {NAME}" in caplog.text
    assert e.identity == "all-MiniLM-L6-v2"
    assert vector == embedder.embed_query("What is open source AI?")


def test_weights_that_stray_from_torch_are_refused(
    copy_models: Callable[[], Path], embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    """A model whose file matches its record but whose vectors drifted (its weight scales
    perturbed, as a bad quantization would) fails the cosine check against torch."""
    directory = copy_models()
    path = directory / FOLDER / "model.onnx"
    perturb(path)
    recorded = installed(directory)[NAME]
    record(directory, replace(recorded, sha256=sha256_of(path), size=path.stat().st_size))
    with caplog.at_level(logging.WARNING, logger="rag.embed"):
        e = Embedder(backend="onnx-int8", models_dir=directory)
        assert e.identity == "all-MiniLM-L6-v2"
    assert "strays from torch" in caplog.text and "Embedding with torch instead" in caplog.text
    assert e.embed_query("licences") == embedder.embed_query("licences")


def test_an_installed_models_int8_model_is_used_and_refused_when_it_drifts(
    installed_int8: Callable[[str], tuple[Path, str]], embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    """RAG_EMBED_MODEL=mpnet with RAG_EMBED_BACKEND=onnx-int8: the int8 model built from the
    installed model is checked against that model's torch vectors; when it drifts, it is refused
    with the command that rebuilds it, and the installed model embeds on torch."""
    directory, source = installed_int8("good")
    e = Embedder(source, backend="onnx-int8", models_dir=directory)
    assert e.identity == "model+onnx-int8" and e.dimension == 384
    assert float(np.dot(e.embed_query("licences"), embedder.embed_query("licences"))) >= 0.98

    directory, source = installed_int8("drifted")
    path = directory / installed_target(installed(directory)["mpnet"]).folder / "model.onnx"
    perturb(path)
    record(directory, replace(installed(directory)["mpnet-onnx-int8"], sha256=sha256_of(path)))
    with caplog.at_level(logging.WARNING, logger="rag.embed"):
        drifted = Embedder(source, backend="onnx-int8", models_dir=directory)
        assert drifted.identity == "model"  # the installed model's own name: torch vectors
    assert "strays from torch" in caplog.text and "rag models install mpnet-onnx-int8" in caplog.text
    assert "Embedding with torch instead" in caplog.text
    assert drifted.embed_query("licences") == embedder.embed_query("licences")


def test_an_int8_model_is_built_only_from_an_installed_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_path))
    assert main(["models", "install", "mpnet-onnx-int8"]) == ConfigError.exit_code
    assert "run `rag models install mpnet` first" in capsys.readouterr().err
    assert main(["models", "list"]) == 0
    assert "mpnet-onnx-int8" in capsys.readouterr().out


def test_an_index_built_with_torch_is_not_extended_with_int8_vectors(
    int8_dir: Path, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("\n\n".join(paragraphs(3)), encoding="utf-8")
    index = tmp_path / "index"
    KnowledgeBase(Settings.from_env(env={}, corpus_dir=corpus, index_dir=index), embedder=embedder).sync(
        progress=False)
    (corpus / "b.txt").write_text("Open weights can be studied by anyone who downloads them.", encoding="utf-8")
    monkeypatch.setenv("RAG_EMBED_BACKEND", "onnx-int8")
    monkeypatch.setenv("RAG_MODELS_DIR", str(int8_dir))
    paths = ["--corpus", str(corpus), "--index", str(index)]
    assert main(["index", *paths, "--json"]) == ModelMismatch.exit_code
    err = capsys.readouterr().err
    assert "all-MiniLM-L6-v2+onnx-int8" in err and "rag index --rebuild" in err
    assert main(["search", "open weights", *paths]) == ModelMismatch.exit_code
    capsys.readouterr()
    assert main(["index", *paths, "--rebuild", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == 2 and report["chunks"] >= 2
    kb = KnowledgeBase(Settings.from_env(corpus_dir=corpus, index_dir=index))
    assert kb.search("Who can study open weights?", k=1)[0].chunk.source == "b.txt"
    # and back: the torch model refuses the int8 index
    torch_kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=corpus, index_dir=index), embedder=embedder)
    with pytest.raises(ModelMismatch, match=r"all-MiniLM-L6-v2 \(384-d\)"):
        torch_kb.sync(progress=False)


def test_int8_is_only_for_the_packaged_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="packaged all-MiniLM-L6-v2 and for an embedding model installed"):
        _ = Embedder(str(tmp_path), backend="onnx-int8", models_dir=tmp_path).dimension
    with pytest.raises(ConfigError, match="torch or onnx-int8"):
        Settings.from_env(env={"RAG_EMBED_BACKEND": "int4"})


def test_the_matmuls_after_a_gelu_are_the_ones_kept_in_fp32(tmp_path: Path) -> None:
    """The feed-forward output MatMuls (fed by a GELU), which the recipe keeps in fp32 when
    quantizing them all strays (all-mpnet-base-v2): found by what feeds them, not by name."""
    from onnx import TensorProto, helper, numpy_helper, save

    from rag.onnx_export import after_gelu

    w = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(4, dtype=np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["up"], name="ffn_up"),
             helper.make_node("BiasGelu", ["up", "b"], ["act"], name="gelu", domain="com.microsoft"),
             helper.make_node("MatMul", ["act", "w"], ["down"], name="ffn_down"),
             helper.make_node("MatMul", ["down", "w"], ["y"], name="attention_out")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w, bias])
    save(helper.make_model(graph), str(tmp_path / "m.onnx"))
    assert after_gelu(tmp_path / "m.onnx") == ["ffn_down"]
