"""Recorded dependencies (review.data.reads): a page runs again exactly when what it read changed.

The slow test builds a small fixture book whose pages each read one kind of input (an
outcome's rows, the study table, every table, the plan, the bibliography, the benchmark
results, nothing), changes each kind of input in turn, and checks that the incremental
build re-executes every page whose output a cold build gives differently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _site import edit_rows
from review.data import reads
from review.pipeline import build
from review.pipeline import cache as cache_mod

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "fixtures" / "data_small"


# --- the recorder, in a process of its own (an audit hook cannot be removed) ------------


def _record(tmp_path: Path, code: str, data: Path = DATA) -> list[str]:
    """Run ``code`` in a new interpreter recording its reads; return the record's lines."""
    record = tmp_path / "record"
    env = dict(
        os.environ,
        REVIEW_READS_FILE=str(record),
        REVIEW_BOOK_ROOT=str(tmp_path),
        REVIEW_DATA_DIR=str(data),
    )
    script = "from review.data import reads\nreads.start()\n" + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return reads.read_record(record)


def test_files_opened_for_reading_under_the_roots_are_recorded(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    lines = _record(
        tmp_path,
        f"""
        import os
        open({str(tmp_path / "a.txt")!r}).read()
        open({str(tmp_path / "written.txt")!r}, "w").write("x")
        try:
            open({str(tmp_path / "missing.md")!r})
        except FileNotFoundError:
            pass
        os.listdir({str(tmp_path)!r})
        open({sys.executable!r}, "rb").close()
        """,
    )
    assert f"path:{tmp_path / 'a.txt'}" in lines
    assert f"path:{tmp_path / 'missing.md'}" in lines  # looked for: it may appear later
    assert f"dir:{tmp_path}" in lines
    assert not any("written.txt" in line for line in lines)  # written, not read
    assert not any(sys.executable in line for line in lines)  # outside the book and data


def test_an_internal_read_in_one_thread_does_not_hide_another_threads_reads(tmp_path):
    """``reads.internal()`` silences only the thread (or task) that entered it."""
    for name in ("quiet.txt", "loud.txt"):
        (tmp_path / name).write_text(name)
    lines = _record(
        tmp_path,
        f"""
        import threading
        inside, done = threading.Event(), threading.Event()

        def quiet():
            with reads.internal():
                open({str(tmp_path / "quiet.txt")!r}).read()
                inside.set()
                assert done.wait(60)

        worker = threading.Thread(target=quiet)
        worker.start()
        assert inside.wait(60)
        open({str(tmp_path / "loud.txt")!r}).read()  # while the worker is inside internal()
        done.set()
        worker.join()
        """,
    )
    assert f"path:{tmp_path / 'loud.txt'}" in lines
    assert not any("quiet.txt" in line for line in lines)


def test_without_the_variable_nothing_is_recorded_or_installed(tmp_path, monkeypatch):
    monkeypatch.delenv(reads.ENV, raising=False)
    assert reads.start() is False
    reads.note(tmp_path / "x")  # no recorder: nothing happens, nothing is written
    assert list(tmp_path.iterdir()) == []


def test_an_outcome_records_its_rows_not_the_whole_outcome_table(tmp_path):
    lines = _record(tmp_path, "from review import data\ndata.outcome('CR')\n")
    outcomes = DATA.resolve() / "outcomes.csv"
    assert f"rows:{outcomes}\toutcome\tCR" in lines
    assert f"path:{outcomes}" not in lines
    assert f"path:{DATA.resolve() / 'studies.csv'}" in lines
    # validation and the typed tables' cache read every table: not recorded
    assert f"path:{DATA.resolve() / 'prisma.csv'}" not in lines


def test_the_tables_of_a_loaded_dataset_are_recorded_as_they_are_read(tmp_path):
    code = (
        "from review import data\nds = data.load()\nds.prisma\nds.dictionary\ndata.outcome('CR')\n"
    )
    lines = _record(tmp_path, code)
    for name in ("prisma.csv", "dictionary.csv"):
        assert f"path:{DATA.resolve() / name}" in lines
    for name in ("outcomes.csv", "missing.csv", "screening.csv"):
        assert f"path:{DATA.resolve() / name}" not in lines


def test_inputs_turn_lines_into_tokens_and_hash_rows_per_value(tmp_path):
    root, data, out = tmp_path / "book", tmp_path / "book" / "data", tmp_path / "book" / "_b"
    shutil.copytree(DATA, data)
    out.mkdir()
    (root / "plan.yaml").write_text("x: 1\n")
    (root / "lib").mkdir()
    inputs = reads.Inputs(root, data, ignore=[out], code=[root / "lib"])
    lines = [
        f"path:{root / 'lib' / 'module.py'}",
        f"path:{root / 'lib' / '__pycache__' / 'module.cpython-311.pyc'}",
        f"path:{root / 'lib' / 'table.json'}",
        f"path:{root / 'plan.yaml'}",
        f"path:{data / 'studies.csv'}",
        f"path:{out / 'memo.json'}",
        f"path:{tmp_path / 'elsewhere.txt'}",
        f"dir:{data}",
        f"rows:{data / 'outcomes.csv'}\toutcome\tCR",
    ]
    tokens = inputs.tokens(lines)
    assert tokens == sorted(
        [
            "book:lib/table.json",  # data a module reads: an input; the module is not
            "book:plan.yaml",
            "data:studies.csv",
            "data-dir:.",
            "rows:outcomes.csv:outcome=CR",
        ]
    )
    before = inputs.hashes(tokens)
    edit_rows(data, "outcomes.csv", {"study_id": "fx03", "outcome": "OR"}, {"events": "1"})
    assert reads.Inputs(root, data).fresh(before)  # another outcome's row: CR's rows as they were
    edit_rows(data, "outcomes.csv", {"study_id": "fx03", "outcome": "CR"}, {"events": "1"})
    assert not reads.Inputs(root, data).fresh(before)
    assert reads.Inputs(root, data).hash("book:absent.md") == reads.ABSENT


# --- the cache index ------------------------------------------------------------------


def _entry(store: cache_mod.Cache, base: str, recorded: dict) -> str:
    tmp = store.new_entry()
    (tmp / "index.ipynb").write_text("{}")
    key = cache_mod.entry_key(base, recorded)
    store.commit(tmp, key, {"page": "p", "base": base, "reads": recorded})
    store.remember(base, key)
    return key


def test_an_entry_is_found_only_while_its_inputs_are_unchanged(tmp_path):
    store = cache_mod.Cache(tmp_path / "cache")
    base = "b" * 64
    old = _entry(store, base, {"data:a.csv": "1"})
    new = _entry(store, base, {"data:a.csv": "2"})
    current = {"data:a.csv": "1"}
    assert store.find(base, lambda r: r == current)[0] == old  # data changed back: reused
    current = {"data:a.csv": "2"}
    assert store.find(base, lambda r: r == current)[0] == new
    assert store.find(base, lambda r: False) is None
    assert store.find("c" * 64, lambda r: True) is None


def test_altered_recorded_inputs_are_detected_and_the_entry_removed(tmp_path):
    store = cache_mod.Cache(tmp_path / "cache")
    base = "b" * 64
    key = _entry(store, base, {"data:a.csv": "1", "book:plan.yaml": "2"})
    manifest = store.path(key) / cache_mod.MANIFEST
    info = json.loads(manifest.read_text())
    del info["reads"]["book:plan.yaml"]  # an input dropped from the record
    manifest.write_text(json.dumps(info))
    with pytest.raises(cache_mod.CorruptEntry, match="do not give its key"):
        store.find(base, lambda r: True)
    assert not store.path(key).exists()


@pytest.mark.parametrize("index", ["", "{", '{"a": 1}', '["../../etc"]'])
def test_a_damaged_index_means_no_entry(tmp_path, index):
    store = cache_mod.Cache(tmp_path / "cache")
    base = "b" * 64
    _entry(store, base, {})
    (store.root / cache_mod.INDEX / f"{base}.json").write_text(index)
    assert store.find(base, lambda r: True) is None


# --- the fixture book: every kind of input ------------------------------------------------

HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# {name}

```{{code-cell}} ipython3
{code}
```
"""

PAGES = {
    "cr": "from review import data\n"
    "print(data.outcome('CR')[['study_id', 'events', 'total', 'label', 'minors']].to_csv())",
    "or": "from review import data\n"
    "print(data.outcome('OR')[['study_id', 'events', 'total', 'label', 'minors']].to_csv())",
    "os": "from review import data\n"
    "print(data.landmark('OS_1y')[['study_id', 'estimate', 'label']].to_csv())",
    "studies": "from review import data\nprint(data.load().studies.to_csv())",
    "tables": "import hashlib\nfrom review import data\nds = data.load()\n"
    "print([hashlib.sha256(getattr(ds, t).to_csv().encode()).hexdigest() for t in data.TABLES])",
    "plan": "import json\nfrom review.data import versions\n"
    "from review.data.plan import load_plan\n"
    "plan = load_plan(versions.default_root() / 'analysis_plan.yaml')\n"
    "print(json.dumps(plan.raw, sort_keys=True, default=str))",
    "bib": "from review.data import versions\n"
    "print((versions.default_root() / 'references.bib').read_text(encoding='utf-8'))",
    "bench": "from review.data import reads, versions\n"
    "print(reads.optional_text(versions.default_root() / 'benchmarks' / 'results.md'))",
    "constant": "print(6 * 7)",
}


def _fixture_book(root: Path) -> None:
    (root / "chapters").mkdir(parents=True)
    for name, code in PAGES.items():
        (root / "chapters" / f"{name}.md").write_text(HEADER.format(name=name, code=code))
    (root / "chapters" / "_params.yml").write_text(
        "chapters:\n" + "".join(f"  {name}: {{}}\n" for name in PAGES)
    )
    for name in ("analysis_plan.yaml", "references.bib"):
        shutil.copy2(REPO / name, root / name)


def _outputs(entries: dict[str, Path]) -> dict[str, str]:
    """What each page shows: its cells' outputs, without execution counts."""
    shown = {}
    for name, entry in entries.items():
        nb = json.loads((entry / "index.ipynb").read_text(encoding="utf-8"))
        cells = [
            [{k: v for k, v in o.items() if k != "execution_count"} for o in c.get("outputs", [])]
            for c in nb["cells"]
            if c["cell_type"] == "code"
        ]
        shown[name] = json.dumps(cells, sort_keys=True)
    return shown


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# each change: (description, what it does to the book root and the data folder)
CHANGES = {
    "outcome row of CR": lambda root, data: edit_rows(
        data, "outcomes.csv", {"study_id": "fx03", "outcome": "CR"}, {"events": "51"}
    ),
    "studies table": lambda root, data: edit_rows(
        data, "studies.csv", {"study_id": "fx02"}, {"first_author": "AuthorZ"}
    ),
    "quality table": lambda root, data: edit_rows(
        data,
        "quality.csv",
        {"study_id": "fx02", "scale": "minors", "item": "total"},
        {"score": "9"},
    ),
    "prisma table": lambda root, data: edit_rows(
        data, "prisma.csv", {"step": "records_identified_databases"}, {"count": "121"}
    ),
    "dictionary table": lambda root, data: _replace(
        data / "dictionary.csv", "Overall response (CR,", "Overall response (any of CR,"
    ),
    "analysis plan": lambda root, data: _replace(
        root / "analysis_plan.yaml", 'plan_version: "1.0"', 'plan_version: "1.1"'
    ),
    "bibliography": lambda root, data: (root / "references.bib").write_text(
        (root / "references.bib").read_text() + "\n@misc{extra, title={Extra}}\n"
    ),
    "benchmark results appear": lambda root, data: (
        (root / "benchmarks").mkdir(exist_ok=True),
        (root / "benchmarks" / "results.md").write_text("# Results\nfaster\n"),
    ),
    "a chapter": lambda root, data: _replace(root / "chapters" / "constant.md", "6 * 7", "6 * 8"),
}


@pytest.mark.slow
def test_incremental_build_reruns_every_page_a_cold_build_gives_differently(tmp_path):
    root, data = tmp_path / "book", tmp_path / "data"
    _fixture_book(root)
    shutil.copytree(DATA, data)
    inc = build.Options(root=root, data_dir=data, out=tmp_path / "inc", jobs=2)
    entries, ran = build.execute_stale(inc)
    assert ran == set(PAGES)
    before = _outputs(entries)
    entries, ran = build.execute_stale(inc)
    assert ran == set()  # nothing changed, nothing runs

    for n, (what, change) in enumerate(CHANGES.items()):
        change(root, data)
        entries, ran = build.execute_stale(inc)
        incremental = _outputs(entries)
        cold_opts = build.Options(root=root, data_dir=data, out=tmp_path / f"cold{n}", jobs=2)
        cold = _outputs(build.execute_stale(cold_opts)[0])
        assert incremental == cold, what  # no stale page
        differs = {name for name in PAGES if cold[name] != before[name]}
        assert differs, f"{what}: the change shows on no page (the test would prove nothing)"
        assert differs <= ran, what
        # and no more than the pages that read what changed
        assert "constant" not in ran or what == "a chapter", (what, ran)
        before = cold
        shutil.rmtree(tmp_path / f"cold{n}")


def test_installed_packages_are_no_recorded_input(tmp_path):
    """A virtual environment inside the book: what its packages hold is in every base key
    (the environment fingerprint), so the files a kernel opens there are not recorded."""
    from review.pipeline import build

    opts = build.Options(root=Path(sys.prefix).parent, data_dir=tmp_path, out=tmp_path / "out")
    inputs = build.page_inputs(opts)
    site_packages = Path(sys.prefix) / "lib"
    assert inputs.token(reads.DIR_PREFIX + str(site_packages)) is None
    assert inputs.token(reads.PATH_PREFIX + str(Path(sys.prefix).parent / "x.txt")) == "book:x.txt"
