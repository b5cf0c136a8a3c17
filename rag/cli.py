"""Shared command-line plumbing: every Settings field becomes a flag, and user errors become one line."""

from __future__ import annotations

import argparse
import os
import sys
import typing
from pathlib import Path
from typing import Callable

from pydantic import ValidationError

from rag.errors import UserError
from rag.settings import Settings


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (also environment variables RAG_<NAME>)")
    for name, info in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        is_list = typing.get_origin(info.annotation) is list
        group.add_argument(flag, dest=f"setting_{name}", nargs="+" if is_list else None, default=None,
                           metavar=name.upper(), help=f"{info.description} (default: {_default(info)})")


def _default(info) -> str:
    value = info.default
    if isinstance(value, list):
        return " ".join(_short(v) for v in value)
    return _short(value)


def _short(value) -> str:
    if isinstance(value, Path):
        try:
            return str(value.relative_to(Path.cwd()))
        except ValueError:
            return str(value)
    return str(value)


def add_filter_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters: answer only from some of the library")
    group.add_argument("--source", action="append", default=[], metavar="FILE",
                       help="only papers from this source file, by name as `rag.ingest --list` shows it (repeatable)")
    group.add_argument("--since", default="", metavar="DATE", help="only papers dated on or after DATE (YYYY[-MM[-DD]])")
    group.add_argument("--until", default="", metavar="DATE", help="only papers dated on or before DATE (YYYY[-MM[-DD]])")


def filters_from_flags(args: argparse.Namespace):
    from rag.retrieve import Filters

    return Filters(tuple(args.source), args.since, args.until)


def settings_from_flags(args: argparse.Namespace, **overrides) -> Settings:
    given = {name: getattr(args, f"setting_{name}") for name in Settings.model_fields
             if getattr(args, f"setting_{name}", None) is not None}
    try:
        return Settings(**given, **overrides)
    except ValidationError as e:
        first = e.errors()[0]
        raise UserError(f"invalid setting {first['loc'][0]}: {first['msg']}") from None


def run_cli(main: Callable[[], int]) -> None:
    """Run a CLI entry point: user mistakes print one line on stderr and exit 2, never a traceback."""
    try:
        code = main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:  # the reader went away (`rag.ask … | head`): nothing more to say, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit would fail again
        code = 141
    sys.exit(code)
