"""Content hashes of files and folders: what the data hash, the releases and the build's
page cache are keyed on (SHA-256, FIPS 180-4)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's content, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_files(root: Path, paths: list[Path]) -> str:
    """One hash over the relative names and contents of ``paths`` (sorted by name)."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(sha256_file(path).encode() + b"\n")
    return digest.hexdigest()


def list_files(root: Path, pattern: str = "*", exclude: tuple[str, ...] = ()) -> list[Path]:
    """Files under ``root`` matching ``pattern``, skipping top-level ``exclude`` names.

    Caches (``__pycache__``) and hidden files are skipped: they do not change what runs.
    """
    if not root.exists():
        return []
    return [
        p
        for p in root.rglob(pattern)
        if p.is_file()
        and "__pycache__" not in p.parts
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.relative_to(root).parts[0] not in exclude
    ]


def hash_tree(root: Path, pattern: str = "*", exclude: tuple[str, ...] = ()) -> str:
    """Hash of every file :func:`list_files` lists (a fixed value for a missing folder)."""
    if not root.exists():
        return sha256_bytes(b"absent")
    return hash_files(root, list_files(root, pattern, exclude))
