"""What a page reads, recorded while it runs, and the hashes that tell when it must run again.

A page's cache entry is reused only while everything the page read is as it was. What it
read is not declared by hand (a forgotten entry would publish a stale page) but recorded:

* in the kernel, :func:`start` (run by the build before the page's first cell) installs an
  audit hook (:func:`sys.addaudithook`, PEP 578) that notes every file of the book or of
  the data folder opened for reading, and every folder listed there;
* :mod:`review.data` notes what it hands to the page at a finer grain (:func:`note`): the
  rows of one outcome rather than the whole outcome table, so that a changed CR row
  re-runs only the pages that read CR rows. Its own reading of the tables (validation,
  the in-process cache of the typed tables) runs inside :func:`internal`, which the hook
  leaves unrecorded.

The kernel appends one line per new token to the file named by ``$REVIEW_READS_FILE``
(:data:`ENV`), which the build sets for each page; each line is written at once, so the
record survives a kernel that dies. Without that variable nothing is recorded and nothing
is installed: a chapter run anywhere else behaves as it always did.

The build (:class:`Inputs`) turns the absolute paths into tokens relative to the book or
the data folder and hashes their present content. Tokens:

``book:<path>`` / ``data:<path>``
    a file of the book (repository root) or of the data folder: its SHA-256, or
    ``absent`` (a page that looked for a file and did not find it must run again when the
    file appears);
``book-dir:<path>`` / ``data-dir:<path>``
    a folder that was listed: the sorted names in it;
``rows:<table>:<column>=<value>``
    the rows of a data table whose ``column`` holds ``value``, with the header.

The design follows the dependency files of compilers (``gcc -MD``) and the "recorded
dependencies" of build systems that trace file access (e.g. Mokhov, Mitchell and
Peyton Jones, "Build systems à la carte", 2018, doi:10.1145/3236774): a result is keyed
on what it actually read, checked against the present content before reuse.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

ENV = "REVIEW_READS_FILE"
PATH_PREFIX = "path:"  # a line of the record: an absolute path opened for reading
DIR_PREFIX = "dir:"  # a line of the record: an absolute folder listed
ROWS_PREFIX = "rows:"  # rows:<absolute table path>\t<column>\t<value>
ABSENT = "absent"

# the state of the recorder in this process (a kernel); None until start()
_sink = None
_roots: tuple[str, ...] = ()
_seen: set[str] = set()
# how deep the running thread (or task) is in internal(): per context, so that one thread's
# internal read never hides what another thread reads at the same time
_quiet = contextvars.ContextVar("review_reads_quiet", default=0)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def start() -> bool:
    """Record this process's reads in ``$REVIEW_READS_FILE``; False when it is not set.

    The roots recorded are the book (``$REVIEW_BOOK_ROOT``) and the data folder
    (``$REVIEW_DATA_DIR``); a second call changes nothing.
    """
    global _sink, _roots
    target = os.environ.get(ENV)
    if not target or _sink is not None:
        return _sink is not None
    roots = [os.environ.get("REVIEW_BOOK_ROOT"), os.environ.get("REVIEW_DATA_DIR")]
    _roots = tuple(os.path.join(os.path.realpath(r), "") for r in roots if r)
    # opened before the hook is installed: the hook never sees its own record
    _sink = open(target, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives with the kernel)
    sys.addaudithook(_hook)
    return True


def _under_roots(path: str) -> bool:
    return os.path.join(path, "").startswith(_roots)  # the root itself, or inside it


def _write(line: str) -> None:
    if line not in _seen:
        _seen.add(line)
        _sink.write(line + "\n")


def _hook(event: str, args: tuple) -> None:
    """The audit hook: note files opened for reading and folders listed under the roots."""
    if _quiet.get() or _sink is None:
        return
    if event == "open":
        path, mode, flags = args
        if isinstance(mode, str):
            if any(c in mode for c in "wax+"):
                return
        elif isinstance(flags, int) and flags & _WRITE_FLAGS:
            return
        kind = PATH_PREFIX
    elif event in ("os.listdir", "os.scandir"):
        path = args[0]
        kind = DIR_PREFIX
    else:
        return
    if isinstance(path, int) or path is None:  # a descriptor: its file was noted when opened
        return
    try:
        full = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return
    if _under_roots(full):
        _write(kind + full)


def note(path: str | os.PathLike, column: str | None = None, value: str | None = None) -> None:
    """Note that the page was given a file (whole), or its rows where ``column == value``.

    Called by :mod:`review.data` for what it returns; does nothing when not recording.
    """
    if _sink is None:
        return
    full = os.path.abspath(os.fspath(path))
    if column is None:
        _write(PATH_PREFIX + full)
    else:
        _write(f"{ROWS_PREFIX}{full}\t{column}\t{value}")


@contextlib.contextmanager
def internal() -> Iterator[None]:
    """Within the block, files this thread opens are not recorded (the caller notes what it
    returns); other threads are recorded as ever."""
    token = _quiet.set(_quiet.get() + 1)
    try:
        yield
    finally:
        _quiet.reset(token)


def optional_text(path: str | os.PathLike) -> str | None:
    """The text of ``path`` (UTF-8), or None when there is no such file.

    Opened, not tested first (``Path.is_file`` is no audit event): the attempt is
    recorded either way, so a page that found no file runs again once it appears.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (FileNotFoundError, IsADirectoryError):
        return None


def read_record(path: Path) -> list[str]:
    """The lines a kernel wrote to its record (missing file: nothing was recorded)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if line]


# --- the build's side: tokens and their present hashes -----------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Inputs:
    """Present content of the inputs pages may read, hashed once per build.

    Parameters
    ----------
    root : Path
        The book (repository root).
    data_dir : Path
        The data folder.
    ignore : iterable of Path
        Folders whose files are not inputs of a page: the build folder (the page's own
        files, the shared-results memo).
    code : iterable of Path
        Folders whose Python modules are not inputs either (``lib/``: every page's key holds
        the hash of its ``.py`` files); their other files (data a module reads) are.
    """

    def __init__(
        self, root: Path, data_dir: Path, ignore: Iterable[Path] = (), code: Iterable[Path] = ()
    ):
        self.root = Path(os.path.realpath(root))
        self.data_dir = Path(os.path.realpath(data_dir))
        self.ignore = tuple(Path(os.path.realpath(p)) for p in ignore)
        self.code = tuple(Path(os.path.realpath(p)) for p in code)
        self._hashes: dict[str, str] = {}
        self._rows: dict[tuple[str, str], dict[str, str]] = {}

    def token(self, line: str) -> str | None:
        """The token of one recorded line, or None for what is not an input."""
        if line.startswith(ROWS_PREFIX):
            path, column, value = line.removeprefix(ROWS_PREFIX).split("\t")
            rel = self._relative(path)
            if rel is None or not rel.startswith("data:"):
                return None
            return f"rows:{rel.removeprefix('data:')}:{column}={value}"
        for prefix, suffix in ((PATH_PREFIX, ""), (DIR_PREFIX, "-dir")):
            if line.startswith(prefix):
                rel = self._relative(line.removeprefix(prefix))
                if rel is None:
                    return None
                kind, _, name = rel.partition(":")
                return f"{kind}{suffix}:{name}"
        return None

    def _relative(self, path: str) -> str | None:
        full = Path(os.path.realpath(path))
        if any(full.is_relative_to(folder) for folder in self.ignore):
            return None
        if any(full.is_relative_to(folder) for folder in self.code) and (
            full.suffix in (".py", ".pyc") or "__pycache__" in full.parts or full.is_dir()
        ):
            return None
        # the data folder first: it is often inside the book
        for kind, base in (("data", self.data_dir), ("book", self.root)):
            if full.is_relative_to(base):
                return f"{kind}:{full.relative_to(base).as_posix()}"
        return None

    def tokens(self, lines: Iterable[str]) -> list[str]:
        """The sorted tokens of a kernel's record (each once)."""
        return sorted({t for t in map(self.token, lines) if t is not None})

    def _path(self, kind: str, name: str) -> Path:
        return (self.data_dir if kind.startswith("data") else self.root) / name

    def hash(self, token: str) -> str:
        """Present hash of the input ``token`` names."""
        if token not in self._hashes:
            self._hashes[token] = self._compute(token)
        return self._hashes[token]

    def hashes(self, tokens: Iterable[str]) -> dict[str, str]:
        """Present hash of each token."""
        return {t: self.hash(t) for t in tokens}

    def fresh(self, recorded: dict[str, str]) -> bool:
        """True when every input of ``recorded`` (token: hash) still has its hash."""
        return all(self.hash(t) == h for t, h in recorded.items())

    def _compute(self, token: str) -> str:
        kind, _, name = token.partition(":")
        if kind == "rows":
            table, _, selector = name.rpartition(":")
            column, _, value = selector.partition("=")
            return self._table_rows(table, column).get(value, ABSENT)
        path = self._path(kind, name)
        if kind.endswith("-dir"):
            if not path.is_dir():
                return ABSENT
            names = sorted(os.listdir(path))
            return hashlib.sha256(json.dumps(names).encode()).hexdigest()
        if kind not in ("book", "data"):
            raise ValueError(f"unknown input token {token!r}")
        try:
            return _sha256_file(path)
        except FileNotFoundError:
            return ABSENT
        except IsADirectoryError:
            return "folder"

    def _table_rows(self, table: str, column: str) -> dict[str, str]:
        """Hash of the header and the rows of each value of ``column`` (csv module: this
        runs on every build, also one that finds nothing to do)."""
        if (table, column) not in self._rows:
            digests: dict[str, hashlib._Hash] = {}
            try:
                with open(self.data_dir / table, newline="", encoding="utf-8") as fh:
                    reader = csv.reader(fh)
                    header = next(reader, [])
                    at = header.index(column) if column in header else None
                    for row in reader if at is not None else ():
                        value = row[at] if at < len(row) else ""
                        if value not in digests:
                            digests[value] = hashlib.sha256(json.dumps(header).encode())
                        digests[value].update(json.dumps(row).encode())
            except (FileNotFoundError, UnicodeDecodeError, csv.Error):
                digests = {}
            self._rows[(table, column)] = {v: d.hexdigest() for v, d in digests.items()}
        return self._rows[(table, column)]
