"""Adding and deleting documents in the corpus folder on behalf of a person (the web chat).
The index follows at the next sync. Names are checked before anything touches the disk: they
stay inside the folder, name a format the loaders read, and hold no invisible characters."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path, PurePosixPath

from rag.errors import RagError
from rag.settings import Settings

# control (Cc), format such as bidi overrides (Cf), surrogate (Cs), line (Zl) and paragraph (Zp)
# separators: they hide or reorder what a name shows ("\u202egpj.md" reads as "dm.jpg")
_REFUSED_CATEGORIES = frozenset(["Cc", "Cf", "Cs", "Zl", "Zp"])
MAX_PARTS = 32
MAX_PART_BYTES = 255


def corpus_path(settings: Settings, name: str) -> Path:
    """The absolute path in the corpus folder for a document name given by a person, or a
    RagError saying why the name is refused."""
    from rag.load import SUFFIXES, is_indexable

    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in name):
        raise RagError(f"refused {name!r}: a file name cannot hold control, format or line-separator characters")
    rel = PurePosixPath(name.replace("\\", "/"))
    if any(len(p.encode("utf-8")) > MAX_PART_BYTES for p in rel.parts) or len(rel.parts) > MAX_PARTS:
        raise RagError(f"refused {name[:80]!r}...: the file name is too long")
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise RagError(f"refused {name!r}: a file name must stay inside the corpus folder")
    if any(p.startswith(".") for p in rel.parts):
        raise RagError(f"refused {name!r}: hidden names (starting with '.') are not indexed")
    if not is_indexable(rel):
        raise RagError(f"refused {name!r}: only {', '.join(SUFFIXES)} files can be indexed")
    try:
        corpus = settings.corpus_dir.resolve()
        target = (corpus / Path(*rel.parts)).resolve()
    except (OSError, RuntimeError):  # a symbolic link loop: its message holds the absolute path
        raise RagError(f"refused {name!r}: the name leads into a loop of symbolic links") from None
    if corpus not in target.parents:
        raise RagError(f"refused {name!r}: a file name must stay inside the corpus folder")
    return target


def _writable(settings: Settings) -> None:
    if settings.read_only:
        raise RagError("this knowledge base is read-only; uploads and deletes are turned off")


def add_file(settings: Settings, name: str, data: bytes, *, replace: bool = False) -> Path:
    """Save an uploaded file into the corpus folder (not synced yet). An existing document is
    replaced only when `replace` says so."""
    _writable(settings)
    target = corpus_path(settings, name)
    if len(data) > settings.max_upload_bytes:
        raise RagError(
            f"refused {name!r}: {len(data) / 2**20:.1f} MiB is over the "
            f"{settings.max_upload_mb:g} MiB upload limit"
        )
    if target.exists() and not replace:
        raise RagError(f"refused {name!r}: a document with that name exists; choose replace to overwrite it")
    tmp = target.with_name(f".{target.name}.upload")
    try:
        _make_folders(settings, name, target)
        if target.is_dir():
            raise RagError(f"refused {name!r}: that name is a folder")
        # readable by the server's user only (the umask may narrow it further, never widen it)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RagError(f"could not save {name!r} in the corpus folder ({exc.strerror or exc})") from None
    return target


def _make_folders(settings: Settings, name: str, target: Path) -> None:
    """The missing folders of a nested name, every one of them (not only the last) private
    like the files: the server's user only, never more open than any corpus folder (the umask
    may narrow it further)."""
    corpus = settings.corpus_dir.resolve()
    for parent in reversed(target.relative_to(corpus).parents):
        folder = corpus / parent
        if folder.exists() and not folder.is_dir():
            raise RagError(f"refused {name!r}: {parent.as_posix()} is a file, not a folder")
        if not folder.exists():
            folder.mkdir(mode=0o700, exist_ok=True)


def delete_file(settings: Settings, name: str) -> Path:
    """Remove a document from the corpus folder (the next sync removes it from the index)."""
    _writable(settings)
    target = corpus_path(settings, name)
    if not target.is_file():
        raise RagError(f"no document {name!r} in the corpus folder")
    try:
        target.unlink()
    except OSError as exc:
        raise RagError(f"could not delete {name!r} ({exc.strerror or exc})") from None
    return target
