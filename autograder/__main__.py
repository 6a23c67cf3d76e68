"""Command line: ``python -m autograder <command> [options]``.

Each command lives in its own module, which provides ``add_arguments(parser)`` to declare its
options and ``run(args) -> int`` to carry it out (the return value is the exit code). To add a
command, add one line to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# command name -> (module that implements it, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "release": ("autograder.commands.release",
                "regenerate assignments/ from solutions/ and run the leak check"),
    "collect": ("autograder.commands.collect",
                "collect a folder of student folders or LMS zips into grading/submitted/"),
    "grade": ("autograder.commands.grade",
              "autograde the collected submissions in parallel, each in its own sandbox"),
    "feedback": ("autograder.commands.feedback",
                 "write one feedback page per student (no hidden test source)"),
    "export": ("autograder.commands.export", "write grades.csv and the summary report"),
    "demo": ("autograder.commands.demo",
             "release, collect the bundled samples, grade, export and print the table"),
    "train-demo": ("autograder.train_demo",
                   "train a small ConvNet for a minute or two and plot its loss curve"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per entry of COMMANDS."""
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Course tooling for cs231kit: run one of the commands below.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        subparser = subparsers.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(subparser)
        subparser.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the process arguments), run the command, return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # list the commands rather than argparse's terse "required" error
        parser.print_help(sys.stderr)
        return 2
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
