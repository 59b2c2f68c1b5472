"""The results memo pages share (review.analysis.memo): reused only while the inputs are the
same."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pandas as pd
import pytest
from review.analysis import grade, memo
from review.data.plan import load_plan
from review.pipeline import build

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "data_small"
CALLS: list[tuple] = []


@memo.cached
def _pooled(df: pd.DataFrame, scale: float) -> dict:
    CALLS.append((len(df), scale))
    if len(df) < 2:
        warnings.warn("one study: nothing to pool", UserWarning, stacklevel=2)
    return {"events": float(df["events"].sum()) * scale, "studies": list(df["study"])}


def _frame(events=(3, 5), study=("a", "b")) -> pd.DataFrame:
    return pd.DataFrame({"study": list(study), "events": list(events)})


@pytest.fixture
def memo_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "memo"
    monkeypatch.setenv(memo.ENV, str(folder))
    CALLS.clear()
    return folder


def test_without_the_build_folder_every_call_computes(monkeypatch):
    monkeypatch.delenv(memo.ENV, raising=False)
    CALLS.clear()
    assert _pooled(_frame(), 1.0) == _pooled(_frame(), 1.0)
    assert len(CALLS) == 2


def test_same_content_is_read_back_not_computed(memo_dir):
    first = _pooled(_frame(), 2.0)
    # equal content, built another way (other objects, a copy of a slice)
    again = _pooled(pd.concat([_frame()[:1], _frame()[1:]]).copy(), 2.0)
    assert again == first == {"events": 16.0, "studies": ["a", "b"]}
    assert len(CALLS) == 1
    assert len(list(memo_dir.iterdir())) == 1


@pytest.mark.parametrize(
    "other",
    [
        lambda: (_frame(events=(3, 6)), 2.0),  # one value
        lambda: (_frame(events=(3.0, 5.0)), 2.0),  # same numbers, another type
        lambda: (_frame(study=("a", "c")), 2.0),  # a label
        lambda: (_frame()[["events", "study"]], 2.0),  # column order
        lambda: (_frame().set_axis([1, 2]), 2.0),  # index
        lambda: (_frame(), 2.5),  # another argument
    ],
)
def test_any_change_of_an_input_computes_again(memo_dir, other):
    _pooled(_frame(), 2.0)
    _pooled(*other())
    assert len(CALLS) == 2


def test_missing_value_markers_are_told_apart():
    shapes = [[math.nan], [None], [pd.NA], ["nan"], [0.1], [0.1 + 1e-16]]
    digests = {memo.digest(pd.DataFrame({"x": pd.Series(v, dtype=object)})) for v in shapes}
    assert len(digests) == len(shapes)


def test_warnings_are_given_again_when_read_back(memo_dir):
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _pooled(_frame(events=(3,), study=("a",)), 1.0)
        assert [(w.category, str(w.message)) for w in caught] == [
            (UserWarning, "one study: nothing to pool")
        ]
    assert len(CALLS) == 1


@pytest.mark.parametrize("damage", [b"", b"not json", b"\x80\x05truncated"])
def test_damaged_entry_is_computed_again_and_replaced(memo_dir, damage):
    _pooled(_frame(), 1.0)
    (entry,) = memo_dir.iterdir()
    entry.write_bytes(damage)
    assert _pooled(_frame(), 1.0)["events"] == 8.0
    assert len(CALLS) == 2
    assert _pooled(_frame(), 1.0)["events"] == 8.0
    assert len(CALLS) == 2


def test_an_argument_it_cannot_hash_is_refused(memo_dir):
    with pytest.raises(TypeError, match="cannot hash an argument of type object"):
        _pooled(_frame(), object())


def test_summary_of_findings_is_the_same_computed_or_read_back(tmp_path, monkeypatch):
    plan = load_plan(ROOT / "analysis_plan.yaml")
    monkeypatch.delenv(memo.ENV, raising=False)
    direct = grade.summary_of_findings(plan, data_dir=FIXTURE)
    monkeypatch.setenv(memo.ENV, str(tmp_path / "memo"))
    computed = grade.summary_of_findings(plan, data_dir=FIXTURE)
    # kept (a result the format cannot hold would be computed again, and prove nothing)
    assert any((tmp_path / "memo").glob("review.analysis.grade.outcome_summary-*.json"))
    read_back = grade.summary_of_findings(plan, data_dir=FIXTURE)
    pd.testing.assert_frame_equal(computed, direct, check_exact=True)
    pd.testing.assert_frame_equal(read_back, direct, check_exact=True)


def test_build_keeps_only_the_memo_of_the_current_code(tmp_path):
    root = tmp_path / ".memo"
    for name in ("aaaa", "bbbb"):
        (root / name).mkdir(parents=True)
        (root / name / "entry.json").write_bytes(b"x")
    folder = build._memo_folder(root, "bbbb" + "0" * 60)
    assert folder == root / ("bbbb" + "0" * 12)
    assert not (root / "aaaa").exists() and not (root / "bbbb").exists()


def _entry_path(memo_dir: Path) -> Path:
    (entry,) = memo_dir.iterdir()
    assert entry.suffix == memo.SUFFIX  # data, not a pickle
    return entry


def test_an_altered_result_is_detected_and_computed_again(memo_dir):
    """A number changed in an entry (its hash line left as it was) is not published."""
    assert _pooled(_frame(), 1.0)["events"] == 8.0
    entry = _entry_path(memo_dir)
    entry.write_text(entry.read_text().replace("8.0", "9.0"))
    assert _pooled(_frame(), 1.0)["events"] == 8.0
    assert len(CALLS) == 2


def test_an_entry_with_a_recomputed_hash_must_still_be_data(memo_dir):
    """Even with a matching hash, an entry is read as data: a pickle's bytes, or a warning
    class that is not one, are refused and computed again."""
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        _pooled(_frame(events=(3,), study=("a",)), 1.0)
    entry = _entry_path(memo_dir)
    digest, _, payload = entry.read_text().partition("\n")
    for hostile in (
        payload.replace("builtins:UserWarning", "os:system"),
        '{"function": 1',
    ):
        entry.write_text(memo.hashlib.sha256(hostile.encode()).hexdigest() + "\n" + hostile)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            _pooled(_frame(events=(3,), study=("a",)), 1.0)
    assert len(CALLS) == 3


def test_nothing_is_unpickled_from_the_memo_folder(memo_dir, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    _pooled(_frame(), 1.0)
    _pooled(_frame(), 1.0)
    assert len(CALLS) == 1


@pytest.mark.parametrize(
    "value",
    [
        {"a": (1, 2.5, None), 3: [True, "x"], "nan": math.nan, "inf": -math.inf, "one": 1.0},
        [pd.NA, memo.np.float64(0.1), memo.np.int64(7), memo.np.bool_(True)],
        pd.DataFrame(
            {
                "o": ["a", None, pd.NA],
                "f": [0.1, math.nan, 1.0],
                "i": pd.array([1, None, 3], dtype="Int64"),
                "F": pd.array([0.5, None, 2.0], dtype="Float64"),
                "b": pd.array([True, None, False], dtype="boolean"),
                "n": [1, 2, 3],
                "l": [[1, 2], [3, 4], [5, 6]],
            },
            index=pd.Index(["x", "y", "z"], name="key"),
        ),
        pd.Series([1.5, 2.5], name="s"),
    ],
    ids=["plain", "scalars", "frame", "series"],
)
def test_results_come_back_exactly_as_computed(value):
    again = memo.decode(memo.json.loads(memo.json.dumps(memo.encode(value))))
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(again, value, check_exact=True)
    elif isinstance(value, pd.Series):
        pd.testing.assert_series_equal(again, value, check_exact=True)
    else:
        assert repr(again) == repr(value)
        assert [type(v) for v in again] == [type(v) for v in value]


@pytest.mark.parametrize(
    "value",
    [object(), pd.Categorical(["a"]), pd.DataFrame({"c": pd.Categorical(["a"])}), {1, 2}],
    ids=["object", "categorical", "categorical-column", "set"],
)
def test_a_result_it_cannot_keep_exactly_is_refused(value):
    with pytest.raises(memo.Unencodable):
        memo.encode(value)


def test_a_result_it_cannot_keep_is_returned_and_not_stored(memo_dir):
    @memo.cached
    def opaque(n: int) -> set:
        CALLS.append(n)
        return {n}

    assert opaque(1) == {1} and opaque(1) == {1}
    assert len(CALLS) == 2
    assert not memo_dir.exists() or not list(memo_dir.iterdir())
