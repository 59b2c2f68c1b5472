"""Results that several pages compute, kept on disk and reused while their inputs are the same.

The summary of findings, What changed and the reproduction page each fit every outcome.
After a change to one outcome's rows all three run again, but only that outcome's fits are
new: a function decorated with :func:`cached` keeps its result under a key made of the
content of its arguments (the rows themselves, hashed with pandas, and the analysis plan)
and of the code that computes it, so the other outcomes' results are read back.

The memo is on only where the build turns it on: it sets ``REVIEW_MEMO_DIR`` for the
kernels it starts, to a folder of its build directory named after the hash of ``lib/`` and
of the installed packages (so that changed code never meets an old result). A chapter cell
run anywhere else, or a function called from a script or a test, computes as if the memo
did not exist.

Warnings the function gave are kept with its result and given again when it is read back,
so that a page shows the same output whether its numbers were computed or reused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ENV = "REVIEW_MEMO_DIR"
F = TypeVar("F", bound=Callable[..., Any])
# where replayed warnings are counted, per file, as Python counts them per module, so that
# a warning shown once per location is still shown once
_REGISTRIES: dict[str, dict] = {}


def digest(value: Any) -> str:
    """Hash of an argument's content: data frames and series by the ``repr`` of their
    columns, types, index and every value (``repr`` tells apart every float, string and
    missing-value marker); an analysis plan by its settings; plain values as JSON.

    Raises
    ------
    TypeError
        For a type whose content is not hashed here (the memo would not be sound).
    """
    import pandas as pd

    from review.plan import Plan

    if isinstance(value, pd.Series):
        value = value.to_frame()
    if isinstance(value, pd.DataFrame):
        parts = [list(value.columns), list(value.dtypes), value.index.tolist()]
        parts.append(value.to_numpy(dtype=object).tolist())
        data = "frame" + "\n".join(map(repr, parts))
    elif isinstance(value, Plan):
        data = "plan" + json.dumps(value.raw, sort_keys=True, default=str)
    elif value is None or isinstance(value, str | int | float | bool | list | tuple | dict):
        data = "json" + json.dumps(value, sort_keys=True)
    else:
        raise TypeError(f"memo: cannot hash an argument of type {type(value).__name__}")
    return hashlib.sha256(data.encode()).hexdigest()


def _key(args: tuple, kwargs: dict) -> str:
    parts = [digest(a) for a in args] + [f"{k}={digest(v)}" for k, v in sorted(kwargs.items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _replay(caught: list[tuple]) -> None:
    for message, category, filename, lineno in caught:
        warnings.warn_explicit(
            message, category, filename, lineno, registry=_REGISTRIES.setdefault(filename, {})
        )


def _compute(fn: Callable, args: tuple, kwargs: dict) -> tuple[Any, list[tuple]]:
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    caught = [(str(w.message), w.category, w.filename, w.lineno) for w in records]
    return result, caught


def cached(fn: F) -> F:
    """Decorate a pure function of data frames, a plan and plain values with the memo.

    Its arguments must be what :func:`digest` can hash, and its result something ``pickle``
    can store. A damaged or unreadable entry is computed again and replaced.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        folder = os.environ.get(ENV)
        if not folder:
            return fn(*args, **kwargs)
        name = f"{fn.__module__}.{fn.__qualname__}-{_key(args, kwargs)}.pickle"
        path = Path(folder) / name
        try:
            with open(path, "rb") as fh:
                result, caught = pickle.load(fh)
        except Exception:  # missing, or damaged in any way: compute it (again)
            result, caught = _compute(fn, args, kwargs)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            with open(tmp, "wb") as fh:
                pickle.dump((result, caught), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # two pages computing the same entry: either copy is whole
        _replay(caught)
        return result

    return wrapper  # type: ignore[return-value]
