"""metaprop is its own distribution: the wheel installs without the review and runs the
README's quick start in a fresh virtual environment."""

import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "lib" / "metaprop" / "README.md"


def _readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, f"{README} has no python example"
    return blocks[0]


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
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    script = tmp_path / "example.py"
    script.write_text(_readme_example(), encoding="utf-8")
    run = subprocess.run(
        [str(python), str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert "tau" in run.stdout.lower()
    # the installed copy, not the source tree, answered
    where = subprocess.run(
        [str(python), "-c", "import metaprop; print(metaprop.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert str(env_dir) in where.stdout
