"""The architecture of ``lib/`` (CONTRIBUTING.md, Architecture): review's layers import
downwards only, and metaprop never imports review.

The contracts are declared in ``.importlinter`` and checked with import-linter, which reads
every import of every module, those inside functions included. The tests run it on this
checkout, and on a copy with one import that breaks a contract, to show that the check can
fail.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
REVIEW = ROOT / "lib" / "review"
# the layer packages, from the top down (review.book and review.release side by side)
LAYERS = ["review.pipeline", "review.book", "review.release", "review.analysis", "review.data"]
# what review holds besides its layers: the command line and the package's marker files
TOP_MODULES = {"__init__.py", "__main__.py", "cli.py", "pyproject.toml"}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the ``lib/`` of ``root`` with ``root``'s contracts."""
    code = (
        "import sys\n"
        "from importlinter.cli import lint_imports\n"
        "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(root / ".importlinter")],
        cwd=root,
        env={"PYTHONPATH": str(root / "lib"), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_contracts_are_kept():
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 kept, 0 broken" in run.stdout, run.stdout


def test_contract_lists_every_layer():
    config = configparser.ConfigParser()
    config.read(CONFIG, encoding="utf-8")
    declared = config["importlinter:contract:review-layers"]["layers"]
    names = [n.strip() for line in declared.split("\n") for n in line.split("|") if n.strip()]
    assert names == ["review.cli", *LAYERS]


def test_every_module_belongs_to_a_layer():
    """A module at the top of review would escape the layers contract."""
    top = {p.name for p in REVIEW.iterdir() if p.name != "__pycache__"}
    packages = {p.name for p in REVIEW.iterdir() if (p / "__init__.py").is_file()}
    assert packages == {name.split(".")[1] for name in LAYERS}
    assert top - packages == TOP_MODULES


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # a lower layer importing a higher one
        (
            "review/data/schema.py",
            "from review.pipeline import build",
            "review.data.schema -> review.pipeline.build",
        ),
        # inside a function, as the imports that hid cycles were
        (
            "review/analysis/grade.py",
            "def _late():\n    from review import book\n",
            "review.analysis.grade -> review.book",
        ),
        # the two independent layers importing each other
        ("review/release/__init__.py", "from review import book", "review.release -> review.book"),
        # metaprop importing review
        ("metaprop/results.py", "import review.data", "metaprop.results -> review.data"),
    ],
)
def test_a_broken_contract_fails(tmp_path, module, line, broken):
    copy = tmp_path / "repo"
    shutil.copytree(
        ROOT / "lib",
        copy / "lib",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    shutil.copy(CONFIG, copy / ".importlinter")
    path = copy / "lib" / module
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + line + "\n", encoding="utf-8")
    run = lint_imports(copy)
    assert run.returncode != 0, run.stdout
    assert "1 broken" in run.stdout, run.stdout
    assert broken in run.stdout, run.stdout


def test_command_line_starts_without_the_analyses():
    """``python -m review --help`` imports no analysis, plot or validation library: they
    load only in the command that needs them (the lazy imports of CONTRIBUTING.md)."""
    code = (
        "import sys\n"
        "import review.cli\n"
        "heavy = ['metaprop', 'review.analysis', 'review.release', 'matplotlib.pyplot',"
        " 'pandera', 'sphinx.application', 'jupyter_book.sphinx']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(ROOT / "lib"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", run.stdout


def test_release_wait_of_the_help_is_the_release_default():
    from review import cli, release

    assert cli.RELEASE_WAIT_SECONDS == release.WAIT_SECONDS
