"""The repository's guardrails: GitHub Actions lints and tests every push and pull request
(as .ci/run does) and publishes the site only after they pass; `make lint` and the
pre-commit hooks lint the chapters' code cells for real (scripts/lint_chapters.py)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _tools import schema_errors

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
FIXTURES = ROOT / "tests" / "fixtures" / "chapters_lint"
LINT = ROOT / "scripts" / "lint_chapters.py"


def _schema_errors(path: Path) -> str:
    return schema_errors(path, "vendor.github-workflows")


def _workflow(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True
    data["on"] = data.pop(True, data.get("on"))
    return data


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job.get("steps", []) if "run" in step]


def _uses(job: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in job.get("steps", []) if "uses" in step]


def _needs(jobs: dict, name: str) -> set[str]:
    """Every job that ``name`` waits for, directly or through others."""
    direct = jobs[name].get("needs", [])
    direct = [direct] if isinstance(direct, str) else direct
    return set(direct).union(*(_needs(jobs, d) for d in direct))


def _lint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(LINT), *map(str, paths)], capture_output=True, text=True, cwd=ROOT
    )


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_workflows_are_valid(path):
    assert _schema_errors(path) == ""


def test_workflow_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "ci.yml"
    text = CI.read_text(encoding="utf-8").replace("    runs-on: ubuntu-latest\n", "", 1)
    broken.write_text(text.replace("  workflow_dispatch:\n", "  workflow-dispatch:\n"))
    errors = _schema_errors(broken)
    assert "runs-on" in errors
    assert "workflow-dispatch" in errors


def test_ci_lints_and_tests_every_push_and_pull_request_as_ci_run_does():
    ci = _workflow(CI)
    assert {"push", "pull_request"} <= set(ci["on"])
    assert ci["on"]["push"] is None, "push runs on every branch"
    assert ci["env"]["CI"] == "true"
    jobs = ci["jobs"]
    assert ["make lint"] in [_runs(j) for j in jobs.values()]
    (test,) = [j for j in jobs.values() if "make test" in _runs(j)]
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _runs(test) == ["bash scripts/install_system_deps.sh", "make test"]
    assert re.search(r"^bash scripts/install_system_deps.sh\nmake test$", ci_run, re.M)
    assert any("make docs" in _runs(j) for j in jobs.values())


def test_pages_deploy_only_after_lint_tests_and_docs_pass():
    jobs = _workflow(CI)["jobs"]
    publish = {"actions/deploy-pages", "actions/upload-pages-artifact"}
    publishing = {n for n, j in jobs.items() if publish & set(_uses(j))}
    assert len(publishing) == 2
    checks = {
        n
        for n, j in jobs.items()
        if n not in publishing and {"make lint", "make test", "make docs"} & set(_runs(j))
    }
    assert len(checks) == 3
    for name in publishing:
        assert checks <= _needs(jobs, name), f"{name} does not wait for {checks}"
    # no other workflow publishes the site
    for path in WORKFLOWS.glob("*.yml"):
        if path != CI:
            assert "deploy-pages" not in path.read_text(encoding="utf-8"), path.name


def test_published_site_holds_the_api_reference():
    """Pages publishes the book as `make book` leaves it, the API site in its api/
    (tests/test_api_docs.py checks the Makefile and the links of the built book)."""
    jobs = _workflow(CI)["jobs"]
    (build,) = [j for j in jobs.values() if "actions/upload-pages-artifact" in _uses(j)]
    runs = "\n".join(_runs(build))
    assert "make book" in runs
    assert "cp -rL _build/html/. public/" in runs
    # no second copy of the API site beside the one make book placed
    assert "_build/api" not in runs and "public/api" not in runs


def test_make_lint_runs_the_chapter_lint():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "$(PY) scripts/lint_chapters.py" in recipe
    assert "ruff check lib tests benchmarks scripts" in recipe


def test_chapters_code_cells_are_clean():
    run = _lint()
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"\d+ files clean", run.stdout)


def test_chapter_lint_fails_on_an_unused_import_at_its_line():
    chapter = FIXTURES / "unused_import.md"
    run = _lint(chapter)
    assert run.returncode == 1
    line = chapter.read_text(encoding="utf-8").splitlines().index("import metaprop as mp") + 1
    (finding,) = run.stdout.splitlines()  # the fenced ```python block is not linted
    assert finding.startswith(f"tests/fixtures/chapters_lint/unused_import.md:{line}:")
    assert "F401" in finding and "metaprop" in finding


def test_chapter_lint_reads_cells_as_a_notebook():
    """A cell's last line may end in `;` (hides a plot's output), as in a notebook."""
    run = _lint(FIXTURES / "clean.md")
    assert run.returncode == 0, run.stdout + run.stderr


def _hooks() -> dict[str, dict]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    return {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}


def test_pre_commit_runs_ruff_and_the_chapter_lint():
    hooks = _hooks()
    assert hooks["ruff-check"]["entry"] == "ruff check"
    assert hooks["ruff-format"]["entry"] == "ruff format --check"
    chapters = hooks["chapter-code-cells"]
    assert re.search(chapters["files"], "chapters/outcome.md")
    assert not re.search(chapters["files"], "lib/metaprop/model.py")


def test_pre_commit_chapter_hook_fails_on_an_unused_import():
    """The hook's own command, as pre-commit runs it (entry + the staged file names)."""
    entry = shlex.split(_hooks()["chapter-code-cells"]["entry"])
    assert entry[0] == "python"
    run = subprocess.run(
        [sys.executable, *entry[1:], str(FIXTURES / "unused_import.md")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 1
    assert "F401" in run.stdout
