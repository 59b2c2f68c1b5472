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

An entry is data, never code: JSON (:func:`encode`) that spells out the type of every value
(numpy scalars, ``pd.NA``, data frames with their column types), under a first line holding
the SHA-256 of the rest. It is read back only when that hash, the function's name and the
key all match, and when decoding gives values of the recorded types; anything else (a
damaged, truncated or altered file) is computed again and replaced. A result this encoding
cannot hold exactly is returned as computed and not kept. Loading a pickle from a writable
build folder would run whatever the file holds (Python documentation, ``pickle``: "Never
unpickle data that could have come from an untrusted source").
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import json
import math
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from review.data.plan import Plan

ENV = "REVIEW_MEMO_DIR"
SUFFIX = ".json"
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

    if type(value) is pd.Series:
        value = value.to_frame()
    if type(value) is pd.DataFrame:
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


class Unencodable(TypeError):
    """A result the memo's data format cannot hold exactly (it is then not kept)."""


# column types a frame may have: each round-trips through a list of Python values
_DTYPES = {"object", "float64", "int64", "bool", "Int64", "Float64", "boolean", "string", "str"}


def encode(value: Any) -> Any:
    """``value`` as JSON-ready data that names the type of every value (see :func:`decode`).

    Raises
    ------
    Unencodable
        For a type (or column type) that is not decoded exactly as it was.
    """
    # exact types: a subclass (an enum, a named tuple) would come back as its base
    if value is None or type(value) in (bool, str):
        return value
    if isinstance(value, np.generic):
        if value.dtype.kind not in "biuf":
            raise Unencodable(f"memo: numpy scalar of type {value.dtype}")
        return {"$": "np", "dtype": value.dtype.str, "v": _number(value.item())}
    if type(value) in (int, float):
        return _number(value)
    if value is pd.NA:
        return {"$": "NA"}
    if type(value) is list:
        return [encode(v) for v in value]
    if type(value) is tuple:
        return {"$": "tuple", "v": [encode(v) for v in value]}
    if type(value) is dict:
        return {"$": "dict", "v": [[encode(k), encode(v)] for k, v in value.items()]}
    if type(value) is pd.DataFrame:
        if type(value.columns) is not pd.Index or value.columns.has_duplicates:
            raise Unencodable("memo: a frame's columns must be a plain index of unique names")
        return {
            "$": "frame",
            "columns": _index(value.columns),
            "index": _index(value.index),
            "data": [_column(value[c]) for c in value.columns],
        }
    if type(value) is pd.Series:
        return {"$": "series", "name": encode(value.name), "index": _index(value.index)} | (
            _column(value)
        )
    raise Unencodable(f"memo: cannot keep a value of type {type(value).__name__}")


def _number(v: int | float) -> Any:
    if isinstance(v, float) and not math.isfinite(v):  # JSON has no NaN nor infinities
        return {"$": "float", "v": repr(v)}
    if isinstance(v, float):
        return {"$": "float", "v": v} if v == int(v) else v  # 1.0 must come back a float
    return v


def _column(series: pd.Series) -> dict:
    dtype = str(series.dtype)
    if dtype not in _DTYPES:
        raise Unencodable(f"memo: cannot keep a column of type {dtype}")
    return {"dtype": dtype, "v": [encode(v) for v in series.tolist()]}


def _index(index: pd.Index) -> dict:
    if type(index) is pd.RangeIndex:
        return {"$": "range", "v": [index.start, index.stop, index.step], "name": index.name}
    if type(index) is not pd.Index:
        raise Unencodable(f"memo: cannot keep an index of type {type(index).__name__}")
    return {"$": "index", "name": encode(index.name)} | _column(index.to_series())


def decode(data: Any) -> Any:
    """The value :func:`encode` wrote; ValueError for data it cannot have written."""
    if data is None or isinstance(data, bool | str | int | float):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        raise ValueError(f"memo: unexpected {type(data).__name__}")
    tag = data.get("$")
    if tag == "np":
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in "biuf":
            raise ValueError(f"memo: numpy type {dtype}")
        return dtype.type(decode(data["v"]))
    if tag == "float":
        return float(data["v"])
    if tag == "NA":
        return pd.NA
    if tag == "tuple":
        return tuple(decode(v) for v in data["v"])
    if tag == "dict":
        return {decode(k): decode(v) for k, v in data["v"]}
    if tag == "frame":
        columns = _unindex(data["columns"])
        index = _unindex(data["index"])
        frame = pd.DataFrame(
            {i: _uncolumn(col, index) for i, col in enumerate(data["data"])}, index=index
        )
        frame.columns = columns
        return frame
    if tag == "series":
        return _uncolumn(data, _unindex(data["index"])).rename(decode(data["name"]))
    raise ValueError(f"memo: unknown tag {tag!r}")


def _uncolumn(data: dict, index: pd.Index | None = None) -> pd.Series:
    if data["dtype"] not in _DTYPES:
        raise ValueError(f"memo: column type {data['dtype']!r}")
    values = [decode(v) for v in data["v"]]
    if data["dtype"] != "object":
        return pd.Series(values, index=index, dtype=data["dtype"])
    array = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):  # one by one: a list stays one value
        array[i] = v
    return pd.Series(array, index=index, dtype=object)


def _unindex(data: dict) -> pd.Index:
    if data["$"] == "range":
        start, stop, step = data["v"]
        return pd.RangeIndex(start, stop, step, name=data["name"])
    if data["$"] != "index":
        raise ValueError("memo: not an index")
    return pd.Index(_uncolumn(data), name=decode(data["name"]))


def _category(category: type[Warning]) -> str:
    return f"{category.__module__}:{category.__qualname__}"


def _warning_class(name: str) -> type[Warning]:
    """The warning class ``module:qualname`` names, among modules already imported (the
    memo imports nothing it reads)."""
    module, _, qualname = name.partition(":")
    found: Any = builtins if module == "builtins" else sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if not (isinstance(found, type) and issubclass(found, Warning)):
        raise ValueError(f"memo: {name!r} is not a warning class")
    return found


def _dumps(key: str, function: str, result: Any, caught: list[tuple]) -> str:
    """The text of an entry: the hash of the payload, a newline, the payload (JSON)."""
    payload = json.dumps(
        {
            "function": function,
            "key": key,
            "result": encode(result),
            "warnings": [[m, _category(c), f, n] for m, c, f, n in caught],
        },
        sort_keys=True,
        allow_nan=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest() + "\n" + payload


def _loads(text: str, key: str, function: str) -> tuple[Any, list[tuple]]:
    """Result and warnings of an entry; ValueError unless its hash, key and function match."""
    digest, _, payload = text.partition("\n")
    if hashlib.sha256(payload.encode()).hexdigest() != digest:
        raise ValueError("memo: content does not match its hash")
    data = json.loads(payload)
    if data.get("key") != key or data.get("function") != function:
        raise ValueError("memo: entry of another call")
    caught = [(str(m), _warning_class(c), str(f), int(n)) for m, c, f, n in data["warnings"]]
    return decode(data["result"]), caught


def _compute(fn: Callable, args: tuple, kwargs: dict) -> tuple[Any, list[tuple]]:
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    caught = [(str(w.message), w.category, w.filename, w.lineno) for w in records]
    return result, caught


def cached(fn: F) -> F:
    """Decorate a pure function of data frames, a plan and plain values with the memo.

    Its arguments must be what :func:`digest` can hash, and its result what :func:`encode`
    can write (else it is computed on every call). A damaged, altered or unreadable entry is
    computed again and replaced.
    """
    function = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        folder = os.environ.get(ENV)
        if not folder:
            return fn(*args, **kwargs)
        key = _key(args, kwargs)
        path = Path(folder) / f"{function}-{key}{SUFFIX}"
        try:
            result, caught = _loads(path.read_text(encoding="utf-8"), key, function)
        except Exception:  # missing, or damaged in any way: compute it (again)
            result, caught = _compute(fn, args, kwargs)
            _store(path, key, function, result, caught)
        _replay(caught)
        return result

    return wrapper  # type: ignore[return-value]


def _store(path: Path, key: str, function: str, result: Any, caught: list[tuple]) -> None:
    """Keep an entry when it reads back as it was written; else keep nothing."""
    try:
        text = _dumps(key, function, result, caught)
        again, _ = _loads(text, key, function)
        if _dumps(key, function, again, caught) != text:
            return  # a type decoded differently: this result is not kept
    except (Unencodable, ValueError):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # two pages computing the same entry: either copy is whole
