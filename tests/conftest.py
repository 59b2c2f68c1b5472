"""Shared pytest set-up: a non-interactive matplotlib backend for every test, and the built
fixture book (``site``), built once per session for every test that reads it."""

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """A cold build of the fixture book; returns (data folder, build folder, output).

    Shared by every test of the session (``tests/_site.py``): a test that changes the build
    works on a copy of it.
    """
    from _site import build_fixture_site

    return build_fixture_site(tmp_path_factory.mktemp("build"))
