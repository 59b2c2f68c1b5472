"""Command line of the review: ``python -m review build | validate | screen | release``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from review.data import screen, validate
from review.pipeline import build as build_mod

# review.release.WAIT_SECONDS, written here for the help text: the command line does not
# import review.release until the release command runs (tests/test_architecture.py)
RELEASE_WAIT_SECONDS = 300.0


def _repo_root() -> Path:
    """The book sources: the current folder if it holds ``_toc.yml``, else this checkout."""
    here = Path.cwd()
    if (here / "_toc.yml").is_file():
        return here
    return Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m review", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="validate data, execute the chapters, build the site")
    b.add_argument("--data", type=Path, help="data folder (default: <root>/data)")
    b.add_argument(
        "--out",
        type=Path,
        help="build folder: site in <out>/html, page cache, doctrees (default: <root>/_build)",
    )
    # one page more than cores: a kernel spends part of its page waiting (start-up, messages)
    b.add_argument(
        "--jobs",
        type=int,
        default=(os.cpu_count() or 1) + 1,
        help="pages run at once (default: one more than the cores)",
    )
    b.add_argument("--root", type=Path, help="book sources (default: this repository)")
    b.add_argument(
        "--timeout",
        type=float,
        default=build_mod.Options.timeout,
        help="seconds one cell of a page may run; past it the build fails (default: %(default)g)",
    )

    v = sub.add_parser("validate", help="check a data folder against the schema")
    v.add_argument("data_dir", nargs="?", type=Path, help="data folder (default: data)")

    sc = sub.add_parser("screen", help="the screening log: import search exports")
    scsub = sc.add_subparsers(dest="screen_command", required=True)
    si = scsub.add_parser(
        "import",
        help="append the records of a search export (RIS, PubMed MEDLINE, "
        "ClinicalTrials.gov CSV) to screening.csv",
    )
    si.add_argument("file", type=Path, help="the export file")
    si.add_argument("--data", type=Path, help="data folder (default: <root>/data)")
    si.add_argument("--round", dest="search_round", help="search round (search_strategies.csv)")
    si.add_argument("--source", help="source searched, as written in search_strategies.csv")

    r = sub.add_parser("release", help="snapshot the data and pooled results as VERSION")
    r.add_argument("version")
    r.add_argument("--data", type=Path, help="data folder (default: <root>/data)")
    r.add_argument(
        "--wait",
        type=float,
        help="seconds to wait for another release of the same data folder to finish "
        f"(default: {RELEASE_WAIT_SECONDS:g})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status."""
    args = _parser().parse_args(argv)
    root = (getattr(args, "root", None) or _repo_root()).resolve()
    if args.command == "build":
        opts = build_mod.Options(
            root=root,
            data_dir=(args.data or root / "data").resolve(),
            out=(args.out or root / "_build").resolve(),
            jobs=max(1, args.jobs),
            timeout=args.timeout,
        )
        return build_mod.main(opts)
    if args.command == "validate":
        return validate.main([str(args.data_dir or root / "data")])
    if args.command == "screen":
        try:
            result = screen.import_export(
                args.file,
                (args.data or root / "data").resolve(),
                search_round=args.search_round,
                source=args.source,
            )
        except (screen.ExportError, OSError) as exc:
            print(f"IMPORT FAILED ({args.file}): {exc}; data/ left as it was", file=sys.stderr)
            return 1
        print(result)
        return 0
    # lazy: review.release imports the analyses (metaprop, scipy: about 0.6 s of the 1.2 s
    # that `python -m review --help` would take); only this command needs them
    from review import release as release_mod

    data_dir = (args.data or root / "data").resolve()
    try:
        build_mod.validate_data(data_dir)
        wait = release_mod.WAIT_SECONDS if args.wait is None else args.wait
        target = release_mod.make_release(args.version, data_dir, root, wait=wait)
    except (build_mod.BuildError, release_mod.ReleaseError) as exc:
        print(f"RELEASE FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"Release {args.version} written to {target}")
    return 0
