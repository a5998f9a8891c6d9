"""The ``mnistlite`` command line: argument parsing and reporting only.

:mod:`~mnistlite.cli.parser` builds the parser; :mod:`~mnistlite.cli.commands` holds one
handler per subcommand, which calls the library and prints what it returns. Every error
the user can cause (an unknown recipe, a missing dataset, a bad ``--out``, a corrupt
checkpoint) is a :class:`~mnistlite.errors.MnistliteError` raised by the library; it ends
with one line on stderr (naming the option where the library names an argument) and exit
code 2, as argparse's usage errors do. Any other exception is a bug and shows its
traceback. When the reader of stdout goes away (``mnistlite list | head -1``) the command
exits quietly.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from collections.abc import Sequence

from mnistlite.cli.parser import SPEED_DEFAULTS, STACK_MODES, build_parser
from mnistlite.errors import MnistliteError

__all__ = ["SPEED_DEFAULTS", "STACK_MODES", "build_parser", "main"]

EXIT_USAGE = 2


#: The exit status after a broken pipe: 128 + SIGPIPE, as a shell reports ``yes | head``.
EXIT_BROKEN_PIPE = 128 + int(getattr(signal, "SIGPIPE", 13))


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout is not a file (tests, IDEs)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mnistlite`` command; return its exit code.

    Exit codes: 0 on success; 2 for a usage error (argparse's, or any
    :class:`~mnistlite.errors.MnistliteError`, reported as one line on stderr);
    130 when interrupted; 141 (128 + SIGPIPE) when the reader of stdout goes away.
    Any other exception propagates with its traceback: it is a bug.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).
    """
    try:
        return _run(argv)
    except BrokenPipeError:  # `mnistlite list | head -1`: the reader has gone; stop quietly
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.handler
    try:
        code = command(args)
        sys.stdout.flush()  # a broken pipe shows here, not at the interpreter's exit
        return code
    except KeyboardInterrupt:
        print("mnistlite: interrupted", file=sys.stderr)
        return 130
    except MnistliteError as err:
        message = _with_flags(str(err), parser, args)
        print(f"mnistlite {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE


def _with_flags(message: str, parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The library's message, with the command-line option of each argument it names.

    The library speaks of its arguments (``val_split``); where the subcommand has an
    option for one (``--val-split``), the message says so at its end.
    """
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options = {
        item.dest: item.option_strings[0]
        for item in action.choices[args.command]._actions
        if item.option_strings and item.dest not in ("help",)
    }
    named = [flag for dest, flag in options.items() if _names(message, dest)]
    named = [flag for flag in named if flag not in message]
    return f"{message} ({', '.join(named)})" if named else message


def _names(message: str, dest: str) -> bool:
    """Whether ``message`` speaks of the argument ``dest`` (``dest=...``, ``dest must``)."""
    said = (rf"\b{dest}=", rf"^{dest}\b", rf"\b{dest} must\b")
    return any(re.search(pattern, message) for pattern in said)
