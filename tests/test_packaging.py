"""metaprop is its own distribution: the wheel installs without the review and runs the
README's quick start in a fresh virtual environment; the sdist and the wheel built from it
pass `twine check --strict` and carry the licence, changelog and citation."""

import doctest
import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "lib" / "metaprop" / "README.md"


def test_readme_examples_run_as_doctests():
    """The README's two-minute example is a doctest (``python -m doctest README.md``)."""
    try:
        result = doctest.testfile(str(README), module_relative=False, verbose=False)
    finally:
        plt.close("all")
    assert result.failed == 0
    assert result.attempted >= 5


_BEFORE_BUILD: set[Path] = set()  # what was there before the wheel was built


def _build_leftovers() -> set[Path]:
    """What setuptools writes into the checkout while it builds: ``build/`` and
    ``lib/*.egg-info`` (the latter sits on ``sys.path`` with the editable install)."""
    return {p for p in (ROOT / "build", *(ROOT / "lib").glob("*.egg-info")) if p.exists()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    before = _build_leftovers()
    _BEFORE_BUILD.update(before)
    try:
        subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    finally:  # the test suite leaves the checkout (and what `make book` keys on) alone
        for path in _build_leftovers() - before:
            shutil.rmtree(path, ignore_errors=True)
    (found,) = out.glob("metaprop-*.whl")
    return found


@pytest.mark.slow
def test_building_the_wheel_leaves_the_checkout_as_it_was(wheel):
    assert _build_leftovers() <= _BEFORE_BUILD


@pytest.mark.slow
def test_wheel_holds_metaprop_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("metaprop/model.py") for n in names)
    assert not [n for n in names if n.startswith("review/")], "the review leaked into the wheel"


@pytest.mark.slow
def test_wheel_installs_into_fresh_venv_and_runs_readme_example(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # without PYTHONPATH: a source tree on it would make pip take metaprop as installed
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        env=clean,
    )
    assert install.returncode == 0, install.stderr
    readme = tmp_path / "README.md"
    readme.write_text(README.read_text(encoding="utf-8"), encoding="utf-8")
    run = subprocess.run(
        [str(python), "-m", "doctest", str(readme)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stdout + run.stderr  # doctest prints only failures
    # the installed copy, not the source tree, answered
    where = subprocess.run(
        [str(python), "-c", "import metaprop; print(metaprop.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean,
    )
    assert str(env_dir) in where.stdout


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> list[Path]:
    """The sdist and the wheel built from it, as `python -m build` makes them for PyPI."""
    out = tmp_path_factory.mktemp("dists")
    run = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (sdist,) = out.glob("metaprop-*.tar.gz")
    (wheel,) = out.glob("metaprop-*.whl")
    return [sdist, wheel]


@pytest.mark.slow
def test_twine_check_strict_passes(dists):
    run = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dists)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("PASSED") == 2, run.stdout


@pytest.mark.slow
def test_distributions_carry_licence_changelog_and_citation(dists):
    sdist, wheel = dists
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"LICENSE", "lib/metaprop/CHANGELOG.md", "lib/metaprop/CITATION.cff"} <= names
    assert not [n for n in names if n.startswith("tests/")], "the review's tests leaked"
    wheel_names = set(zipfile.ZipFile(wheel).namelist())
    assert {"metaprop/CHANGELOG.md", "metaprop/CITATION.cff"} <= wheel_names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel_names)
    metadata = next(
        zipfile.ZipFile(wheel).read(n).decode()
        for n in wheel_names
        if n.endswith(".dist-info/METADATA")
    )
    assert "License-Expression: MIT" in metadata
    assert "example" + ".invalid" not in metadata  # split: no tracked file names the host
