"""Command line of the review: ``python -m review build | validate | release``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from review import build as build_mod
from review import release as release_mod


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

    v = sub.add_parser("validate", help="check a data folder against the schema")
    v.add_argument("data_dir", nargs="?", type=Path, help="data folder (default: data)")

    r = sub.add_parser("release", help="snapshot the data and pooled results as VERSION")
    r.add_argument("version")
    r.add_argument("--data", type=Path, help="data folder (default: <root>/data)")
    r.add_argument(
        "--wait",
        type=float,
        default=release_mod.WAIT_SECONDS,
        help="seconds to wait for another release of the same data folder to finish "
        "(default: %(default)g)",
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
        )
        return build_mod.main(opts)
    if args.command == "validate":
        from review import validate

        return validate.main([str(args.data_dir or root / "data")])
    data_dir = (args.data or root / "data").resolve()
    try:
        build_mod.validate_data(data_dir)
        target = release_mod.make_release(args.version, data_dir, root, wait=args.wait)
    except (build_mod.BuildError, release_mod.ReleaseError) as exc:
        print(f"RELEASE FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"Release {args.version} written to {target}")
    return 0
