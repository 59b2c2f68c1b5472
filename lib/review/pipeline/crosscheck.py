"""What the book pools, written out for an independent fit with R metafor.

For every outcome page and survival page of the book (``chapters/_params.yml``) and every
population of the plan, :func:`cases` records the rows that enter the fit, exactly as the
page selects them (:func:`review.analysis.by_population` and
:func:`review.analysis.landmark_by_population`), and the model the page chose (the GLMM, the
plan's fallback, a single study, or nothing). Row selection is the review's business; from
those rows onward the statistics are fitted again by ``scripts/metafor_book.R``, and
``tests/test_book_metafor.py`` compares metafor's numbers with the pages'.

Command line (writes the JSON input of the R script)::

    python -m review.pipeline.crosscheck tests/fixtures/data_small \\
        tests/fixtures/metafor_book_input.json
    Rscript scripts/metafor_book.R tests/fixtures/metafor_book_input.json \\
        tests/fixtures/metafor_book.json

Input format (``format`` 1): ``source`` (what wrote it, the plan's level and prediction
interval rule), then ``cases``, one per (outcome, population), each with ``id``
(``<OUTCOME>-<population>``), ``outcome``, ``population``, ``page`` (the page name, e.g.
``outcome[or]``), ``csv`` (the results table the page offers for download), ``kind``
(``binary`` or ``survival``), ``model`` (the model the page used: ``id``, ``label``,
``measure``, ``method``, ``test``; for survival also ``scale``; None when nothing is pooled),
``single`` (``exact`` for one binary study, shown with its Clopper-Pearson interval;
``reported`` for one survival estimate, shown with its own interval; else None),
``i2_ci_model`` (the inverse-variance model whose Q-profile interval of I2 the page shows;
None when nothing is pooled) and ``studies``: ``study``, ``events``, ``total`` for binary
rows; ``study``, ``estimate``, ``ci_low``, ``ci_high`` (None when not printed),
``n_analysed`` for survival rows (proportions on the 0-1 scale, as the page reads them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from review import analysis, data
from review.data.plan import ModelSpec, Plan, load_plan
from review.pipeline import params

__all__ = ["FORMAT", "cases", "main", "write_input"]

FORMAT = 1
"""Version of the input layout described in the module docstring."""

_ROOT = Path(__file__).resolve().parents[3]
_BINARY_CHAPTER = "outcome"
_SURVIVAL_CHAPTER = "survival"


def _number(value) -> float | None:
    """A float for JSON, None for a missing value (NaN, None, pandas NA)."""
    if value is None or pd.isna(value):
        return None
    return float(value)


def _spec(spec: ModelSpec | None) -> dict | None:
    if spec is None:
        return None
    return {
        "id": spec.id,
        "label": spec.label,
        "measure": spec.measure,
        "method": spec.method,
        "test": spec.test,
    }


def _binary_case(fit: analysis.PooledFit, plan: Plan) -> dict:
    rows = fit.rows
    studies = [
        {"study": str(s), "events": int(e), "total": int(n)}
        for s, e, n in zip(
            rows[plan.col("study")], rows[plan.col("events")], rows[plan.col("total")], strict=True
        )
    ]
    pooled = fit.result is not None
    return {
        "kind": "binary",
        "model": _spec(fit.model),
        "single": plan["few_studies"]["single_study_ci"] if not pooled and fit.k == 1 else None,
        # analysis.heterogeneity: the Q-profile CI of I2 comes from the fit itself, or from
        # the plan's inverse-variance fallback when the fit is the GLMM
        "i2_ci_model": (
            None if not pooled else _spec(plan.fallback if fit.model.is_glmm else fit.model)
        ),
        "studies": studies,
        # a rate reported from another model (the Bayesian headline, checked against R's
        # integrate() in tests/test_bayes.py); metafor checks the GLMM beside it
        "headline": fit.headline.method if fit.headline is not None else None,
    }


def _survival_case(fit: analysis.PooledFit, plan: Plan) -> dict:
    rows = fit.rows
    cols = [plan.col(c) for c in ("study", "estimate", "ci_low", "ci_high", "n_analysed")]
    studies = [
        {
            "study": str(s),
            "estimate": _number(e),
            "ci_low": _number(lo),
            "ci_high": _number(hi),
            "n_analysed": _number(n),
        }
        for s, e, lo, hi, n in zip(*(rows[c] for c in cols), strict=True)
    ]
    surv = plan["survival"]
    model = _spec(fit.model)
    if model is not None:
        model["scale"] = surv["scale"]
    pooled = fit.result is not None
    return {
        "kind": "survival",
        "scale": surv["scale"],
        "model": model,
        "single": "reported" if not pooled and fit.k == 1 else None,
        "i2_ci_model": model if pooled else None,
        "studies": studies,
        "headline": None,
    }


def _pages(root: Path) -> list[tuple[params.Page, str]]:
    """(page, kind) for every outcome and survival page of the book, in book order."""
    kinds = {_BINARY_CHAPTER: "binary", _SURVIVAL_CHAPTER: "survival"}
    return [(p, kinds[p.chapter]) for p in params.load_pages(root) if p.chapter in kinds]


def cases(data_dir: str | Path, plan: Plan | None = None, *, root: Path = _ROOT) -> list[dict]:
    """The fits the book shows for ``data_dir``: rows and model per (outcome, population).

    Parameters
    ----------
    data_dir : path
        Data folder (as ``python -m review build --data``).
    plan : Plan, optional
        The analysis plan; the repository's by default.
    root : Path
        Book sources (for ``chapters/_params.yml``).

    Returns
    -------
    list of dict
        One case per page and population, in the layout of the module docstring.
    """
    plan = plan or load_plan()
    out = []
    for page, kind in _pages(root):
        code = page.parameters["outcome"]
        if kind == "binary":
            fits = analysis.by_population(data.outcome(code, data_dir=data_dir), plan, outcome=code)
            build = _binary_case
        else:
            fits = analysis.landmark_by_population(
                data.landmark(code, data_dir=data_dir), plan, outcome=code
            )
            build = _survival_case
        for key, fit in fits.items():
            case = {
                "id": f"{code}-{key}",
                "outcome": code,
                "population": key,
                "page": page.name,
                "csv": f"{code}-results.csv",
                "k": fit.k,
                "patients": analysis.patients(fit.rows, plan),
            }
            case.update(build(fit, plan))
            out.append(case)
    return out


def write_input(
    data_dir: str | Path, path: str | Path, *, plan: Plan | None = None, label: str | None = None
) -> dict:
    """Write the JSON input of ``scripts/metafor_book.R`` for ``data_dir``; return it.

    ``label`` is recorded as the data folder's name in ``source`` (default: the path as
    given), so that a file written from a temporary copy can equal the pinned one.
    """
    plan = plan or load_plan()
    pi = plan["heterogeneity"]["prediction_interval"]
    doc = {
        "format": FORMAT,
        "source": {
            "generator": "python -m review.pipeline.crosscheck",
            "data_dir": label if label is not None else str(data_dir),
            "plan_version": str(plan["plan_version"]),
            "level": plan.level,
            "prediction_interval": {"dist": pi["dist"], "min_k": pi["min_k"]},
        },
        "cases": cases(data_dir, plan),
    }
    text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")
    return doc


def main(argv: list[str] | None = None) -> int:
    """``python -m review.pipeline.crosscheck DATA_DIR OUT.json``."""
    parser = argparse.ArgumentParser(
        prog="python -m review.pipeline.crosscheck",
        description="Write the rows and models of the book's pooled fits "
        "(the input of scripts/metafor_book.R).",
    )
    parser.add_argument("data_dir", type=Path, help="data folder")
    parser.add_argument("out", type=Path, help="JSON file to write")
    args = parser.parse_args(argv)
    doc = write_input(args.data_dir, args.out)
    pooled = sum(c["model"] is not None for c in doc["cases"])
    print(f"{len(doc['cases'])} cases ({pooled} pooled) written to {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover - the command line
    sys.exit(main())
