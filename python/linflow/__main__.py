"""Command line: ``python -m linflow demo`` runs the worked examples and checks them."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parses ``argv`` and runs the chosen command; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m linflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="reproduce the worked examples and check them against closed forms")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run

        return 0 if run() else 1
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":
    sys.exit(main())
