"""The `overfeat` command line.

    overfeat describe --arch accurate
    overfeat describe --arch fast --size 231x231 --size 455x567 --json

Each subcommand's flags are defined once, in an `add_<name>_args(parser)`
function that the matching script in `pipelines/` reuses.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_describe_args", "build_parser", "main", "run_describe"]


def _size(text):
    from overfeat_tf.geometry import parse_size

    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number. Received: {text!r}"
        )
    return value


def add_describe_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `overfeat describe` / `pipelines/describe.py`."""
    from overfeat_tf.specs import SPECS

    parser.add_argument(
        "--arch", default="accurate", choices=sorted(SPECS), help="network preset"
    )
    parser.add_argument(
        "--size",
        action="append",
        type=_size,
        metavar="HxW",
        help="input size, repeatable (default: the window and the spec's six scales)",
    )
    parser.add_argument(
        "--classes", type=_positive_int, default=1000, help="number of classes"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def run_describe(args: argparse.Namespace) -> int:
    """Runs `overfeat describe` with parsed flags; returns the exit code."""
    from overfeat_tf.describe import describe, format_description

    info = describe(args.arch, sizes=args.size, num_classes=args.classes)
    print(json.dumps(info) if args.json else format_description(info))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="overfeat",
        description="OverFeat: integrated classification, localization and detection.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_describe_args(
        sub.add_parser(
            "describe",
            help="parameters, strides and map sizes of a network",
            description="Build a network; print its parameters, strides, map sizes.",
        )
    ).set_defaults(run=run_describe)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as e:
        parser.exit(2, f"overfeat {args.command}: error: {e}\n")


if __name__ == "__main__":
    sys.exit(main())
