"""Cache of executed pages, keyed on everything a page's output depends on.

An entry is a folder named by the key: the executed notebook, the files it wrote (figures,
tables) and ``MANIFEST.json`` with the size and SHA-256 of each. Entries are written in a
temporary folder and renamed into place, so a reader never sees half an entry; an entry whose
manifest is missing, unreadable or disagrees with its files is reported and removed, and the
page is executed again.

Jupyter Book's own cache (jupyter-cache) keys on code cells only; it would reuse a page after
``lib/`` or ``data/`` changed. This one keys on the chapter source, every ``.py`` file under
``lib/``, its parameters and the installed package versions (the page's *base* key), and on
what the page read when it ran, with the content hash of each input (recorded by
:mod:`review.data.reads`). What a page reads is known only once it has run, so an entry's key is
``entry_key(base, reads)`` and the index ``.index/<base>.json`` lists the entries made
under one base key, newest first: :meth:`Cache.find` reuses the first whose inputs all
still have their recorded hashes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from review.data import hashes

MANIFEST = "MANIFEST.json"
# this checkout (lib/review/pipeline/cache.py)
SOURCE_TREE = Path(__file__).resolve().parents[3]
INDEX = ".index"  # in the cache folder: the entries of each base key
KEPT_PER_BASE = 16  # entries remembered per base key (data changed back and forth)


def environment_fingerprint() -> str:
    """Python version and every installed distribution with its version (as ``pip freeze``).

    Read from the names of the distributions' metadata folders on ``sys.path``
    (``<name>-<version>.dist-info``, ``.egg-info``), where ``importlib.metadata`` finds
    them: parsing each one's METADATA file would take a third of a second, and pip more.
    The working directory (``''`` on ``sys.path``) is left out, so that the fingerprint
    does not depend on where the build was started, and so is every folder of this checkout
    (:data:`SOURCE_TREE`): the editable install puts ``lib/`` on the path, where building
    the wheel (``make test``) leaves ``metaprop.egg-info``; the code there is hashed with
    ``lib/`` itself, and the installed version of each package is its ``.dist-info`` in
    ``site-packages``.
    """
    found = set()
    for entry in sys.path:
        if not os.path.isabs(entry) or not os.path.isdir(entry):
            continue
        if Path(entry).resolve().is_relative_to(SOURCE_TREE):
            continue
        with os.scandir(entry) as items:
            found.update(
                item.name.lower()
                for item in items
                if item.name.endswith((".dist-info", ".egg-info"))
            )
    return hashes.sha256_bytes((sys.version + "\n" + "\n".join(sorted(found))).encode())


def make_key(parts: dict[str, str]) -> str:
    """Key of a cache entry: hash of its named parts (canonical JSON)."""
    return hashes.sha256_bytes(json.dumps(parts, sort_keys=True).encode())


def entry_key(base: str, reads: dict[str, str]) -> str:
    """Key of the entry made under ``base`` by a run that read ``reads`` (input: hash)."""
    return make_key({"base": base, "reads": json.dumps(reads, sort_keys=True)})


class CorruptEntry(Exception):
    """A cache entry whose files do not match its manifest."""


class Cache:
    """Folder of executed pages, one sub-folder per key.

    Parameters
    ----------
    root : Path
        Cache folder, created when needed.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """Folder of the entry ``key`` (whether or not it exists)."""
        return self.root / key

    def lookup(self, key: str) -> Path | None:
        """Return the entry's folder if it exists and checks out, else None.

        Raises
        ------
        CorruptEntry
            The entry exists but a file is missing, altered or unlisted; it has been removed.
        """
        entry = self.path(key)
        if not entry.exists():
            return None
        try:
            self.verify(entry)
        except CorruptEntry:
            shutil.rmtree(entry, ignore_errors=True)
            raise
        return entry

    @staticmethod
    def verify(entry: Path) -> dict:
        """Check every file of ``entry`` against its manifest; return the manifest."""
        try:
            manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
            files = manifest["files"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptEntry(f"{entry.name[:12]}: unreadable manifest ({exc})") from exc
        present = {p.relative_to(entry).as_posix() for p in entry.rglob("*") if p.is_file()} - {
            MANIFEST
        }
        if present != set(files):
            raise CorruptEntry(
                f"{entry.name[:12]}: files {sorted(present ^ set(files))} differ from manifest"
            )
        for name, expected in files.items():
            if hashes.sha256_file(entry / name) != expected:
                raise CorruptEntry(f"{entry.name[:12]}: checksum of {name} does not match")
        return manifest

    def candidates(self, base: str) -> list[str]:
        """Keys of the entries made under ``base``, newest first (none if the index is
        missing or damaged: the page then runs again)."""
        try:
            keys = json.loads((self.root / INDEX / f"{base}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(keys, list):
            return []
        return [k for k in keys if isinstance(k, str) and len(k) == 64 and k.isalnum()]

    def remember(self, base: str, key: str) -> None:
        """Put ``key`` first in the index of ``base`` (one rename: never half a file)."""
        folder = self.root / INDEX
        folder.mkdir(parents=True, exist_ok=True)
        keys = [key, *(k for k in self.candidates(base) if k != key)][:KEPT_PER_BASE]
        path = folder / f"{base}.json"
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(keys), encoding="utf-8")
        os.replace(tmp, path)

    def find(self, base: str, fresh) -> tuple[str, Path] | None:
        """The newest entry of ``base`` whose recorded inputs are all unchanged.

        Parameters
        ----------
        base : str
            Base key of the page (chapter, parameters, ``lib/``, packages).
        fresh : callable
            ``fresh(reads)`` is True when every input of ``reads`` (input: hash) still has
            that hash (:meth:`review.data.reads.Inputs.fresh`).

        Returns
        -------
        (key, folder) or None

        Raises
        ------
        CorruptEntry
            An entry whose manifest or files do not check out, or whose recorded inputs do
            not give its key (altered); it has been removed.
        """
        for key in self.candidates(base):
            entry = self.path(key)
            if not entry.is_dir():
                continue
            try:
                manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
                reads = manifest["reads"]
                if not isinstance(reads, dict) or not all(
                    isinstance(v, str) for v in reads.values()
                ):
                    raise TypeError("recorded inputs are not a mapping of hashes")
                if manifest["base"] != base or entry_key(base, reads) != key:
                    raise CorruptEntry(f"{key[:12]}: its recorded inputs do not give its key")
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                shutil.rmtree(entry, ignore_errors=True)
                raise CorruptEntry(f"{key[:12]}: unreadable manifest ({exc})") from exc
            except CorruptEntry:
                shutil.rmtree(entry, ignore_errors=True)
                raise
            if fresh(reads):
                found = self.lookup(key)
                if found is not None:
                    return key, found
        return None

    def new_entry(self) -> Path:
        """A fresh temporary folder (inside the cache, so the final rename is atomic)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))

    def commit(self, tmp: Path, key: str, info: dict) -> Path:
        """Write the manifest of ``tmp`` last, then rename it to the entry ``key``."""
        files = {
            p.relative_to(tmp).as_posix(): hashes.sha256_file(p)
            for p in tmp.rglob("*")
            if p.is_file()
        }
        manifest = tmp / MANIFEST
        manifest.write_text(json.dumps({**info, "key": key, "files": files}, indent=1))
        final = self.path(key)
        if final.exists():  # another build stored the same result meanwhile
            shutil.rmtree(final)
        os.replace(tmp, final)
        return final

    def clean_temporary(self) -> None:
        """Remove folders left by an interrupted build."""
        if self.root.exists():
            for tmp in self.root.glob(".tmp-*"):
                shutil.rmtree(tmp, ignore_errors=True)
