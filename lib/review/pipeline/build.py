"""The living review's build: validate the data, execute the pages, render, publish.

``python -m review build`` (also ``make book``) does, in order:

1. validate ``data/`` (``review.data.validate``; skipped when the same data were validated by
   the same code before); stop on any error;
2. read the parameter sets (``chapters/_params.yml``) and expand ``_toc.yml``;
3. for each page, compute its base key (chapter source, ``lib/``, its parameters,
   installed packages) and reuse a cached execution whose recorded inputs (every file and
   data row the page read when it ran, :mod:`review.data.reads`) are unchanged, or run the
   chapter with papermill, ``jobs`` at a time in a thread pool, each in a new standard
   kernel (:mod:`review.pipeline.execute`); pages that pool every outcome reuse the results of the
   outcomes whose rows did not change (:mod:`review.analysis.memo`);
4. unless the published site already shows exactly these pages, assemble the executed
   pages in a fresh source folder and render them with Jupyter Book, strictly (warnings
   are errors, references checked), into a new site folder that starts as a copy of the
   published one, so that Sphinx writes only the pages that changed; then write the
   version banner into every page;
5. point ``<build>/html`` at the new site in one atomic step.

Any failure (invalid data, a notebook that raises, a kernel that dies, a cell past its time
limit, a Sphinx warning, SIGINT or SIGTERM, a full disk) leaves the published site exactly
as it was, kills the kernels still running, removes its temporary folders and ends with
one message that says what failed and where. Nothing under the data folder is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import html
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import yaml

from review.data import hashes, validate, versions
from review.data import reads as reads_mod
from review.pipeline import cache as cache_mod
from review.pipeline import params as params_mod
from review.pipeline import site
from review.pipeline.execute import (
    Kernels,
    PageFailed,
    execute_page,
    os_error,
    remove_orphaned_inputs,
)

READS_FILE = ".reads"  # in a running page's entry: what its kernel read (not kept)
# in the build folder: results pages share (review.analysis.memo), one folder per code
MEMO = ".memo"
TIMINGS = ".timings.json"  # in the build folder: seconds each page took when it last ran
# Book files copied next to the executed pages (the toc is generated, not copied).
BOOK_FILES = ("references.bib",)
BOOK_DIRS = ("_static", "_templates")
LIB = Path(__file__).resolve().parents[2]  # lib/: metaprop and review


class BuildError(Exception):
    """The build stopped; the message says what failed and where."""


@dataclass(frozen=True)
class Options:
    """Where the build reads and writes.

    Attributes
    ----------
    root : Path
        Book sources: ``_config.yml``, ``_toc.yml``, ``references.bib``, ``chapters/``.
    data_dir : Path
        The data folder the chapters read (read only).
    out : Path
        Build folder: the site (``html``), the page cache and Sphinx's doctrees.
    jobs : int
        Pages executed at the same time.
    timeout : float
        Seconds one cell of a page may run; a page past it fails the build.
    """

    root: Path
    data_dir: Path
    out: Path
    jobs: int = 2
    timeout: float = 600.0


def _say(message: str) -> None:
    print(message, flush=True)


def _validated_before(record: Path, fingerprint: str) -> bool:
    """True when ``record`` says these data were validated by this code before."""
    return record.is_file() and record.read_text() == fingerprint


def validate_data(data_dir: Path, record: Path | None = None, fingerprint: str = "") -> None:
    """Check the data; raise BuildError naming the folder when they fail.

    With ``record``, a successful check is remembered under ``fingerprint`` (the hash of
    the data, of ``lib/`` and of the installed packages): the same data checked by the same
    code need not be checked again.
    """
    if not data_dir.is_dir():
        raise BuildError(f"data folder {data_dir} does not exist")
    if record is not None and _validated_before(record, fingerprint):
        _say(f"Data unchanged since they were last validated ({fingerprint[:12]})")
        return

    _say(f"Validating {data_dir}")
    start = time.perf_counter()
    # pandera loads hypothesis, when it is installed (for the tests), to offer strategies
    # that synthesise data; checking data never uses them, and the import takes 0.4 s
    with _unimportable("hypothesis"):
        failed = validate.main([str(data_dir)])
    if failed:
        raise BuildError(f"data in {data_dir} failed validation (errors listed above)")
    if record is not None:
        record.write_text(fingerprint)
    _say(f"  validated in {time.perf_counter() - start:.1f} s")


@contextlib.contextmanager
def _unimportable(module: str) -> Iterator[None]:
    """Within the block, ``import module`` raises ImportError, unless it is loaded already
    (then nothing changes); afterwards it imports as usual."""
    if module in sys.modules:
        yield
        return
    sys.modules[module] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get(module, ...) is None:
            del sys.modules[module]


def base_keys(
    opts: Options, pages: list[params_mod.Page], common: dict[str, str]
) -> dict[str, str]:
    """Base key of every page (by ``Page.name``): its chapter source, its parameters and
    ``common`` (the hashes of ``lib/`` and of the installed packages).

    A page's cache entry is keyed on its base key and on what the page read when it ran
    (:func:`review.pipeline.cache.entry_key`, recorded by :mod:`review.data.reads`).
    """
    keys = {}
    for page in pages:
        parts = {
            **common,
            "chapter": hashes.sha256_file(opts.root / page.source),
            "page": json.dumps(
                [page.chapter, page.set_id, page.title, page.parameters], sort_keys=True
            ),
        }
        keys[page.name] = cache_mod.make_key(parts)
    return keys


def page_inputs(opts: Options) -> reads_mod.Inputs:
    """The inputs pages may read, hashed once per build: files of the book and of the data
    folder; not the modules of ``lib/`` nor the installed packages (both part of every base
    key, and the virtual environment may sit inside the book), nor the build folder."""
    ignore = (opts.out, Path(sys.prefix))
    return reads_mod.Inputs(opts.root, opts.data_dir, ignore=ignore, code=(LIB,))


@dataclass
class Workers:
    """Threads that run pages (each page's kernel is a child process of the build) and the
    record of their kernels, so that a stopped build kills them."""

    pool: ThreadPoolExecutor
    kernels: Kernels
    size: int


@contextlib.contextmanager
def _workers(jobs: int) -> Iterator[Workers]:
    """A standard thread pool of ``jobs`` workers; leaving the block kills the kernels of the
    pages still running (their threads then return within a second) and waits for them."""
    kernels = Kernels()
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="page")
    try:
        yield Workers(pool, kernels, jobs)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        kernels.kill_all()
        pool.shutdown(wait=True)


def _run_pages(
    opts: Options,
    todo: list[tuple[params_mod.Page, str]],
    store: cache_mod.Cache,
    timings: dict[str, float],
    workers: Workers,
    memo_dir: Path,
    inputs: reads_mod.Inputs,
    keys: dict[str, str],
    when_idle: Callable[[], object] = lambda: None,
) -> list[str]:
    """Execute pages in ``pool``, commit each success to the cache; return failure messages.

    ``todo`` holds each page with its base key; a page that ran is committed under the key
    of what it read (its kernel's record, hashed by ``inputs``), which goes into ``keys``.

    The pages start longest first, by the seconds each took when it last ran (``timings``,
    updated here; a page never timed starts first), so that no long page starts last.
    ``when_idle`` is called once, as soon as fewer pages remain than ``workers``: the cores
    the last pages leave free can prepare the next step.
    """
    failures = []
    todo = sorted(todo, key=lambda item: -timings.get(item[0].name, math.inf))

    # validated before any page runs: the kernels need not check the same bytes again
    validated_hash = versions.data_hash(opts.data_dir, short=False)
    running = {}
    try:
        for page, base in todo:
            tmp = store.new_entry()
            future = workers.pool.submit(
                execute_page,
                str(opts.root),
                page,
                str(opts.data_dir),
                str(tmp),
                validated_hash,
                str(memo_dir),
                timeout=opts.timeout,
                kernels=workers.kernels,
                reads_file=str(tmp / READS_FILE),
            )
            running[future] = (page, base, tmp)
            _say(f"  run     {page.name}")
        idle = False
        while running:
            if not idle and len(running) < workers.size:
                idle = True
                when_idle()
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                page, base, tmp = running.pop(future)
                try:
                    seconds = future.result()
                except PageFailed as exc:
                    failures.append(str(exc))
                    _say(f"  FAILED  {page.name}")
                    shutil.rmtree(tmp, ignore_errors=True)
                    continue
                timings[page.name] = round(seconds, 2)
                record = tmp / READS_FILE
                recorded = inputs.hashes(inputs.tokens(reads_mod.read_record(record)))
                record.unlink(missing_ok=True)
                key = cache_mod.entry_key(base, recorded)
                info = {"page": page.name, "seconds": round(seconds, 2)}
                try:
                    store.commit(tmp, key, {**info, "base": base, "reads": recorded})
                except OSError as exc:  # a full disk: say which page could not be kept
                    failures.append(f"{page.name}: {page.source}: {os_error(exc)}")
                    _say(f"  FAILED  {page.name}")
                    shutil.rmtree(tmp, ignore_errors=True)
                    continue
                store.remember(base, key)
                keys[page.name] = key
                _say(f"  done    {page.name} in {seconds:.1f} s")
    except BaseException:
        store.clean_temporary()  # the half-written entries of the pages that were running
        raise
    return failures


# Files of a site that no build writes to while the frame key stays the same (MathJax, which
# sphinx-mathjax-offline copies only when its bytes differ, i.e. when the package changes).
LINKED = ("_static/mathjax/",)


def _copy_site(site_dir: Path, new: Path) -> None:
    """Copy the published site to start a new one, keeping file times (Sphinx compares them).

    Sphinx writes changed files in place, so a new site holds copies, not links to the
    published one; the only exception is :data:`LINKED`, hard-linked (a quarter of a second
    less), whose files a render finds identical and leaves alone.
    """
    source = site_dir.resolve()

    def copy(src: str, dst: str) -> None:
        if Path(src).relative_to(source).as_posix().startswith(LINKED):
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    shutil.copytree(source, new, copy_function=copy)


def _site_pages(site_dir: Path) -> Iterator[Path]:
    """The HTML pages of a site (not the theme's templates under ``_static``)."""
    for page in site_dir.rglob("*.html"):
        if not page.is_relative_to(site_dir / "_static"):
            yield page


_REFERENCE = re.compile(r"_(images|downloads)/([^\"'#?/]+)")


def prune_unreferenced(site_dir: Path) -> int:
    """Remove images and downloads no page links to any more; return how many went.

    A site starts as a copy of the last one, and a figure that changed gets a new name: the
    old file would stay, and every data change would leave a few more behind.
    """
    used: dict[str, set[str]] = {"images": set(), "downloads": set()}
    for page in _site_pages(site_dir):
        for kind, name in _REFERENCE.findall(page.read_text(encoding="utf-8")):
            used[kind].add(name)
    removed = 0
    for kind, names in used.items():
        folder = site_dir / f"_{kind}"
        if not folder.is_dir():
            continue
        for item in folder.iterdir():  # _images: files; _downloads: one folder per file
            if item.name not in names:
                if item.is_dir():
                    shutil.rmtree(item)
                else:
                    item.unlink()
                removed += 1
    return removed


def _read_timings(path: Path) -> dict[str, float]:
    """Seconds each page took when it last ran; empty if the record is missing or damaged."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict):
        return {}
    return {k: float(v) for k, v in record.items() if isinstance(v, int | float)}


def _write_json(path: Path, value) -> None:
    """Write ``value`` as JSON in one rename, so a reader never sees half a file (a build
    killed between the write and the rename leaves ``.<name>.<pid>``: see
    :func:`_clear_leftovers`)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _clear_leftovers(out: Path, store: cache_mod.Cache) -> None:
    """Remove what a build killed outright left in ``out`` and the temporary folder: half
    cache entries, its kernels' input folders and JSON files half way to their rename. The
    caller holds the folder's build lock, so no running build owns any of them."""
    store.clean_temporary()
    remove_orphaned_inputs()
    for stray in out.glob(".*.json.*"):
        stray.unlink(missing_ok=True)


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy a folder keeping modification times, so Sphinx sees unchanged pages as such."""
    shutil.copytree(src, dst, copy_function=shutil.copy2, dirs_exist_ok=True)


# The banner on every page, and the status fields a page may show (About). Sphinx gets a
# fixed placeholder (a changing config value would make it write every page again; a
# changing page would have to be read again); the build fills in the status after rendering.
BANNER_OPEN = '<span class="review-status">'
BANNER_CLOSE = "</span>"
_BANNER = re.compile(re.escape(BANNER_OPEN) + "(.*?)" + re.escape(BANNER_CLOSE), re.S)
_FIELD = re.compile(r'(<span class="review-field" data-field="(\w+)">)(.*?)(</span>)', re.S)


def _book_config(opts: Options) -> dict:
    """The book's ``_config.yml`` with the placeholder of the version banner."""
    config = yaml.safe_load((opts.root / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("html", {})["announcement"] = (
        f"{BANNER_OPEN}version, data date and data hash{BANNER_CLOSE}"
    )
    return config


def banner(status: dict) -> str:
    """The banner's text (HTML): version, data date and short data hash."""
    # raw HTML: escape the values, though they come from our own data
    shown = {k: html.escape(str(v)) for k, v in status.items()}
    return (
        f"Version {shown['version']} &middot; data as of {shown['data_date']} "
        f"&middot; data hash <code>{shown['data_hash']}</code>"
    )


def stamp_status(site_dir: Path, status: dict) -> int:
    """Write ``status`` into every page of ``site_dir``; return how many pages changed.

    The banner of every page, and each ``<span class="review-field" data-field="NAME">``
    a page shows, get the values of ``status``. Pages Sphinx did not write again still hold
    the values of the build before: they are replaced, not only the placeholders.

    Raises
    ------
    BuildError
        For a field that ``status`` does not have (a typo in a chapter).
    """
    text = BANNER_OPEN + banner(status) + BANNER_CLOSE

    def field(match: re.Match) -> str:
        name = match.group(2)
        if name not in status:
            raise BuildError(
                f"{page.relative_to(site_dir)}: review-field {name!r} is not one of "
                f"{', '.join(sorted(status))}"
            )
        return match.group(1) + html.escape(str(status[name])) + match.group(4)

    changed = 0
    for page in _site_pages(site_dir):
        old = page.read_text(encoding="utf-8")
        new = _FIELD.sub(field, _BANNER.sub(lambda _match: text, old))
        if new != old:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def assemble(opts: Options, src: Path, toc: dict) -> None:
    """Lay out the Jupyter Book source folder: config, generated toc, book files."""
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    config = _book_config(opts)
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (src / "_toc.yml").write_text(
        "# Generated by review.pipeline.build from _toc.yml and chapters/_params.yml\n"
        + yaml.safe_dump(toc, sort_keys=False),
        encoding="utf-8",
    )
    for name in BOOK_FILES:
        shutil.copy2(opts.root / name, src / name)
    for name in BOOK_DIRS:
        if (opts.root / name).is_dir():
            _copy_tree(opts.root / name, src / name)


def add_pages(
    src: Path,
    pages: list[params_mod.Page],
    entries: dict[str, Path],
    changed: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Put executed pages (their cache entries) into the source folder.

    The files of a page keep the times of its cache entry, so that Sphinx reads again only
    the pages in ``changed`` (those whose entry differs from the last render's): their
    files are dated now. An entry may be older than the last render (data changed back to
    what they were before); by date alone Sphinx would keep the last render's page.
    """
    for page in pages:
        target = src / Path(page.docname).parent
        _copy_tree(entries[page.name], target)
        (target / cache_mod.MANIFEST).unlink()
        if page.name in changed:
            for path in entries[page.name].rglob("*"):
                if path.name != cache_mod.MANIFEST:
                    os.utime(target / path.relative_to(entries[page.name]))


def frame_key(opts: Options, environment: str) -> str:
    """Key of what frames every page: config, table of contents, parameter sets, static files
    and the installed packages (``environment``: Sphinx, its theme and extensions).

    While it stays the same, a render starts from the published site and Sphinx writes only
    the pages that changed; when it changes, every page is written again.
    """
    parts = {"environment": environment}
    for name in ("_config.yml", "_toc.yml", "chapters/_params.yml", *BOOK_FILES):
        parts[name] = hashes.sha256_file(opts.root / name)
    for name in BOOK_DIRS:
        parts[name] = hashes.hash_tree(opts.root / name)
    return cache_mod.make_key(parts)


def site_key(frame: str, keys: dict[str, str], status: dict) -> str:
    """Key of the whole site: the frame, every page key and the status in the banner."""
    return cache_mod.make_key(
        {**keys, "frame": frame, "status": json.dumps(status, sort_keys=True)}
    )


def _published(out: Path) -> dict | None:
    """Record of the site ``out/html`` points at (its keys and folder), if it is intact."""
    link = out / "html"
    record = out / ".site.json"
    try:
        info = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    if not link.is_symlink() or Path(os.readlink(link)) != Path(info["site"]):
        return None
    if not (link / "index.html").is_file():
        return None
    return info


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One build at a time per build folder (else BuildError)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(f"another build is running in {out}") from None
        yield


def run(opts: Options) -> None:
    """Build the book; raise BuildError on failure (the published site is then untouched)."""
    with _locked(opts.out), contextlib.ExitStack() as stack:
        _build(opts, stack)


def _build(opts: Options, stack: contextlib.ExitStack) -> None:
    """The build; ``stack`` closes the worker processes and the renderer it starts."""
    t0 = time.perf_counter()
    out = opts.out
    common = common_parts()
    fingerprint = cache_mod.make_key(
        {**common, "data": versions.data_hash(opts.data_dir, short=False)}
        if opts.data_dir.is_dir()
        else common
    )
    record = out / ".validated"
    validate_data(opts.data_dir, record, fingerprint)

    pages = params_mod.load_pages(opts.root)
    toc = params_mod.expand_toc(opts.root, pages)
    bases = base_keys(opts, pages, common)
    inputs = page_inputs(opts)
    status = versions.status(opts.data_dir)
    _say(f"Book: {len(pages)} pages; version {status['version']}, data hash {status['data_hash']}")

    # earlier sites go while this build works (listed now: the new site is not among them)
    leftovers = site.superseded(out / "sites", out / "html")
    if leftovers:
        stack.enter_context(ThreadPoolExecutor(max_workers=1)).submit(site.remove, leftovers)
    store = cache_mod.Cache(out / ".cache")
    _clear_leftovers(out, store)
    memo_dir = _memo_folder(out / MEMO, cache_mod.make_key(common))
    entries, keys, todo = find_entries(store, pages, bases, inputs)

    frame = frame_key(opts, common["environment"])
    published = _published(out)

    def unchanged() -> bool:  # every page's key known: the site shows exactly these pages
        return published is not None and published["key"] == site_key(frame, keys, status)

    if not todo and unchanged():
        _say(f"Site unchanged: {out / 'html'} is up to date ({time.perf_counter() - t0:.1f} s)")
        return
    # the published site and Sphinx's saved state are those of the last render: start from
    # them when the frame is the same, and have Sphinx read and write the changed pages only
    last = published.get("pages", {}) if published and published.get("frame") == frame else {}
    changed = {name for name in entries if last.get(name) != keys[name]}

    staging = out / ".staging"
    src = staging / "src"
    sites = out / "sites"
    sites.mkdir(parents=True, exist_ok=True)
    new_site = sites / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    published_now = False

    keep_sources = False  # after a failed render, its sources stay for the reader to look at

    def discard_unpublished() -> None:  # whatever stops the build leaves no half site
        if not published_now:
            shutil.rmtree(new_site, ignore_errors=True)
        if not keep_sources:
            shutil.rmtree(staging, ignore_errors=True)

    stack.callback(discard_unpublished)  # runs after the preparation below has finished

    def prepare() -> None:  # the site's frame and the reused pages, while pages execute
        assemble(opts, src, toc)
        add_pages(src, [p for p in pages if p.name in entries], entries, changed)
        if last:
            _copy_site(out / "html", new_site)

    preparation = stack.enter_context(ThreadPoolExecutor(max_workers=1)).submit(prepare)

    renderers: list[site.Renderer] = []

    def start_renderer() -> None:  # new pages make a new site: Sphinx loads meanwhile
        renderers.append(stack.enter_context(site.Renderer()))

    _run_all(opts, todo, store, stack, len(pages), memo_dir, inputs, keys, start_renderer)
    for page, _ in todo:
        entries[page.name] = store.path(keys[page.name])
    preparation.result()
    if unchanged():  # pages ran (damaged entries) and gave what the site shows
        shutil.rmtree(staging, ignore_errors=True)
        _say(f"Site unchanged: {out / 'html'} is up to date ({time.perf_counter() - t0:.1f} s)")
        return
    changed |= {page.name for page, _ in todo if last.get(page.name) != keys[page.name]}
    add_pages(src, [page for page, _ in todo], entries, changed)

    _say(f"Rendering with Jupyter Book (strict): {len(changed)} of {len(pages)} pages changed")
    key = site_key(frame, keys, status)
    t1 = time.perf_counter()
    renderer = renderers[0] if renderers else stack.enter_context(site.Renderer())
    try:
        code, messages = renderer.render(src, new_site, out / ".doctrees")
    except BaseException:  # interrupted: nor half a doctree cache (the site goes anyway)
        shutil.rmtree(out / ".doctrees", ignore_errors=True)
        raise
    if code != 0:
        keep_sources = True
        raise BuildError(
            f"Jupyter Book failed (exit {code}); the published site is unchanged. "
            f"Sources of the failed render: {src}\n{messages}"
        )
    stamp_status(new_site, status)
    prune_unreferenced(new_site)
    _say(f"  rendered in {time.perf_counter() - t1:.1f} s")
    site.publish(new_site, out / "html")
    published_now = True
    record = {"key": key, "site": os.path.relpath(new_site, out), "frame": frame, "pages": keys}
    _write_json(out / ".site.json", record)
    shutil.rmtree(staging, ignore_errors=True)
    _say(f"Site published: {out / 'html'} ({time.perf_counter() - t0:.1f} s in all)")


def find_entries(
    store: cache_mod.Cache,
    pages: list[params_mod.Page],
    bases: dict[str, str],
    inputs: reads_mod.Inputs,
) -> tuple[dict[str, Path], dict[str, str], list[tuple[params_mod.Page, str]]]:
    """The fresh cache entry of each page, its key, and the pages that must run (with
    their base keys): those with no entry whose recorded inputs are all unchanged."""
    entries: dict[str, Path] = {}
    keys: dict[str, str] = {}  # entry key of each page: known for a page once it has run
    todo = []
    for page in pages:
        base = bases[page.name]
        try:
            found = store.find(base, inputs.fresh)
        except cache_mod.CorruptEntry as exc:
            _say(f"  corrupt cache entry of {page.name} ({exc}): removed, executing again")
            found = None
        if found is None:
            todo.append((page, base))
        else:
            keys[page.name], entries[page.name] = found
            _say(f"  reused  {page.name} (key {keys[page.name][:12]})")
    return entries, keys, todo


def common_parts() -> dict[str, str]:
    """The parts every page's key shares: the hashes of ``lib/`` and of the installed
    packages."""
    return {
        "lib": hashes.hash_tree(LIB, "*.py"),
        "environment": cache_mod.environment_fingerprint(),
    }


def execute_stale(opts: Options) -> tuple[dict[str, Path], set[str]]:
    """Run the pages whose cache entry is missing or stale, without rendering or publishing.

    The first half of :func:`run`, for tests and benchmarks of the cache (the data are not
    validated here). Returns the cache entry of every page and the names of those that ran.
    """
    with _locked(opts.out), contextlib.ExitStack() as stack:
        common = common_parts()
        pages = params_mod.load_pages(opts.root)
        bases = base_keys(opts, pages, common)
        inputs = page_inputs(opts)
        store = cache_mod.Cache(opts.out / ".cache")
        _clear_leftovers(opts.out, store)
        memo_dir = _memo_folder(opts.out / MEMO, cache_mod.make_key(common))
        entries, keys, todo = find_entries(store, pages, bases, inputs)
        _run_all(opts, todo, store, stack, len(pages), memo_dir, inputs, keys)
        for page, _ in todo:
            entries[page.name] = store.path(keys[page.name])
    return entries, {page.name for page, _ in todo}


def _memo_folder(root: Path, code: str) -> Path:
    """The folder of :mod:`review.analysis.memo` for this code (``lib/`` and packages); the folders
    of other code are removed (their results can never be read again)."""
    folder = root / code[:16]
    if root.is_dir():
        for other in root.iterdir():
            if other != folder:
                shutil.rmtree(other, ignore_errors=True)
    return folder


def _run_all(
    opts: Options,
    todo: list[tuple[params_mod.Page, str]],
    store: cache_mod.Cache,
    stack: contextlib.ExitStack,
    total: int,
    memo_dir: Path,
    inputs: reads_mod.Inputs,
    keys: dict[str, str],
    when_idle: Callable[[], object] = lambda: None,
) -> None:
    """Execute the pages of ``todo`` (of ``total`` in the book), ``opts.jobs`` at a time;
    raise BuildError naming every page that failed."""
    if not todo:
        return
    workers = stack.enter_context(_workers(max(1, min(opts.jobs, len(todo)))))
    _say(f"Executing {len(todo)} of {total} pages ({opts.jobs} at a time)")
    start = time.perf_counter()
    timings = _read_timings(opts.out / TIMINGS)
    try:
        failures = _run_pages(
            opts, todo, store, timings, workers, memo_dir, inputs, keys, when_idle
        )
    finally:
        _write_json(opts.out / TIMINGS, timings)
    if failures:
        raise BuildError(
            f"{len(failures)} page(s) failed; the published site is unchanged:\n  "
            + "\n  ".join(failures)
        )
    _say(f"  executed in {time.perf_counter() - start:.1f} s")


def _terminate(_signum, _frame):
    """SIGTERM (a CI runner cancelling the job) stops the build as Ctrl-C does."""
    raise KeyboardInterrupt


def main(opts: Options) -> int:
    """Run the build for the command line: 0 on success, 1 on failure, 130 if interrupted."""
    signal.signal(signal.SIGTERM, _terminate)
    # papermill's log (nbclient's too) repeats what the build says of a failed page
    # ("Kernel died ...", "Timeout waiting ..."): the build's message is the one message
    logging.getLogger("papermill").setLevel(logging.CRITICAL)
    # after a cell's time limit, nbclient leaves the task reading its output pending; when
    # the page's client is closed, asyncio logs "Task was destroyed but it is pending!"
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        run(opts)
    except (BuildError, params_mod.ParamsError) as exc:
        print(f"BUILD FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("BUILD INTERRUPTED: the published site is unchanged", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk, a folder that cannot be written: no traceback
        print(f"BUILD FAILED: {os_error(exc)}; the published site is unchanged", file=sys.stderr)
        return 1
    return 0
