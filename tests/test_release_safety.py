"""Releases as an attacker or a hurried editor makes them (issue 24): odd versions, versions
compared as versions, two releases at once, a release stopped half-way."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from review import release
from review.data import versions

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "data_small"
DAY = dt.date(2026, 1, 15)


@pytest.fixture
def data(tmp_path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(FIXTURE, folder)
    return folder


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1" * 300, "300 characters; the limit is 32"),
        ("1." + "0" * 40, "characters; the limit is 32"),
        ("one", "not a PEP 440 version"),
        ("1.0/../../x", "bad version string"),
        ("1.0 beta", "not a PEP 440 version"),
        ("v1.0", "write it as '1.0'"),
        ("1.0.0-rc1", "write it as '1.0.0rc1'"),
        ("1.0+local", "write it as '1.0'"),
    ],
)
def test_bad_versions_are_refused_with_a_message(data, version, message):
    with pytest.raises(release.ReleaseError, match="bad version string") as info:
        release.make_release(version, data, ROOT, today=DAY)
    assert message in str(info.value)
    assert len(str(info.value)) < 300
    assert not (data / versions.RELEASES).exists() or not any((data / versions.RELEASES).iterdir())


def test_release_command_with_a_300_character_version_fails_cleanly(data, capsys):
    from review import cli

    assert cli.main(["release", "9" * 300, "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("RELEASE FAILED: bad version string") and "Traceback" not in err


def test_versions_are_ordered_as_versions(data):
    release.make_release("1.9", data, ROOT, today=DAY)
    release.make_release("1.10", data, ROOT, today=DAY)
    assert [m["version"] for m in versions.list_releases(data)] == ["1.9", "1.10"]
    assert versions.status(data)["version"] == "1.10"
    assert versions.status(data)["last_release"] == "1.10"
    with pytest.raises(release.ReleaseError, match="would not come after the last release 1.10"):
        release.make_release("1.2", data, ROOT, today=DAY)


def test_a_folder_being_written_is_not_a_release(data):
    release.make_release("1.0", data, ROOT, today=DAY)
    half = data / versions.RELEASES / ".tmp-crashed"
    shutil.copytree(data / versions.RELEASES / "1.0", half)
    (half / versions.MANIFEST).write_text(
        (half / versions.MANIFEST).read_text().replace('"1.0"', '"9.0"')
    )
    assert [m["version"] for m in versions.list_releases(data)] == ["1.0"]
    release.make_release("1.1", data, ROOT, today=DAY)  # and the next release clears it
    assert not half.exists()


def test_a_release_interrupted_while_writing_leaves_nothing(data, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(KeyboardInterrupt):
        release.make_release("1.0", data, ROOT, today=DAY)
    assert list((data / versions.RELEASES).iterdir()) == []  # no folder, no lock
    monkeypatch.undo()
    assert release.make_release("1.0", data, ROOT, today=DAY).is_dir()


def test_a_second_release_gives_up_with_the_holder_named(data):
    with release.release_lock(data / versions.RELEASES, "1.0", wait=0) as lock:
        start = time.monotonic()
        with pytest.raises(release.ReleaseError) as info:
            release.make_release("1.1", data, ROOT, today=DAY, wait=0.5)
        assert time.monotonic() - start >= 0.5
    text = str(info.value)
    assert "another release is running (release 1.0 by process" in text
    assert f"delete the lock file {lock}" in text
    assert not lock.exists()


def test_a_second_release_waits_then_runs(data):
    said: list[str] = []
    folder = data / versions.RELEASES
    held = threading.Event()

    def first():
        with release.release_lock(folder, "1.0"):
            held.set()
            time.sleep(1.0)

    t = threading.Thread(target=first)
    t.start()
    held.wait()
    with release.release_lock(folder, "1.1", wait=30, say=said.append):
        pass
    t.join()
    assert said == [said[0]] and "Release 1.1 waits for another release" in said[0]
    assert "release 1.0 by process" in said[0]


def test_two_releases_of_one_version_at_once(data):
    """Both start together: one writes the release, the other is told it exists already."""
    outcome: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def run(name):
        barrier.wait()
        try:
            outcome[name] = release.make_release("1.0", data, ROOT, today=DAY)
        except release.ReleaseError as exc:
            outcome[name] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [v for v in outcome.values() if isinstance(v, release.ReleaseError)]
    made = [v for v in outcome.values() if isinstance(v, Path)]
    assert len(made) == 1 and len(errors) == 1, outcome
    assert "release 1.0 exists already" in str(errors[0])
    assert [m["version"] for m in versions.list_releases(data)] == ["1.0"]
    assert sorted(p.name for p in (data / versions.RELEASES).iterdir()) == ["1.0"]
