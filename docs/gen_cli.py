"""The CLI reference page, generated from the real ``keras-drift`` argument parser.

Used by ``docs/hooks.py`` during ``mkdocs build`` (so ``nox -s docs`` and ``mkdocs serve`` always show the
parser as it is) and by ``tests/unit/test_docs.py``. Run alone it prints the page, or writes it:
``python docs/gen_cli.py [OUT.md]``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

# Where the parser is built. The first name that exists wins; without any, the parser is caught as the
# console script's main() parses an argument list (see _caught_parser), whatever the function is called.
_MODULE = "keras_drift.cli"
_BUILDERS = ("build_parser", "make_parser", "parser", "_parser")
_WIDTH = 100  # usage lines are wrapped the same on every machine


class _Caught(BaseException):  # not an Exception: main() turns those into exit codes
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__("parser caught")
        self.parser = parser


def find_parser() -> argparse.ArgumentParser:
    """The top-level ``keras-drift`` parser."""
    module = importlib.import_module(_MODULE)
    for name in _BUILDERS:
        builder = getattr(module, name, None)
        if callable(builder):
            try:
                built = builder()
            except TypeError:
                continue
            if isinstance(built, argparse.ArgumentParser):
                return built
    return _caught_parser(module)


def _caught_parser(module: object) -> argparse.ArgumentParser:
    original = argparse.ArgumentParser.parse_args

    def catch(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> argparse.Namespace:
        raise _Caught(self)

    argparse.ArgumentParser.parse_args = catch  # type: ignore[assignment]
    try:
        module.main(["list"])  # type: ignore[attr-defined]
    except _Caught as caught:
        return caught.parser
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
    raise RuntimeError(f"{_MODULE}.main did not parse its arguments with argparse")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each subcommand's name and parser, in the order ``--help`` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {choice.dest: choice.help or "" for choice in action._choices_actions}
    return {}


def _text(text: str) -> str:
    """Plain help text as Markdown: ``<``, ``>`` and ``&`` outside code spans escaped, ``|`` escaped for tables."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            part = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", r"\*")
        out.append(part.replace("|", r"\|"))
    return " ".join("".join(out).split())


def _help(action: argparse.Action, prog: str) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    values = dict(vars(action), prog=prog)
    for name, value in list(values.items()):
        if value is argparse.SUPPRESS:
            del values[name]
        elif hasattr(value, "__name__"):
            values[name] = value.__name__
    try:
        return action.help % values
    except (KeyError, TypeError, ValueError):
        return action.help


def _spelling(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    if action.nargs == 0:
        return ", ".join(f"`{option}`" for option in action.option_strings)
    metavar = action.metavar or action.dest.upper()
    value = f"[{metavar}]" if action.nargs == "?" else metavar
    return ", ".join(f"`{option} {value}`" for option in action.option_strings)


def _default(action: argparse.Action) -> str:
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS, (), [], ""):
        return ""
    if action.required:
        return ""
    return f"`{action.default}`"


def _options(sub: argparse.ArgumentParser) -> Iterator[str]:
    rows = [action for action in sub._actions if not isinstance(action, argparse._HelpAction) and action.help != argparse.SUPPRESS]
    if not rows:
        return
    yield "| argument | default | required | what |"
    yield "| --- | --- | --- | --- |"
    for action in rows:
        required = "yes" if (action.required or (not action.option_strings and action.nargs not in ("?", "*"))) else ""
        yield f"| {_spelling(action)} | {_default(action)} | {required} | {_text(_help(action, sub.prog))} |"


def render() -> str:
    """The whole page, as Markdown."""
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(_WIDTH)  # argparse wraps usage to the terminal's width
    try:
        return _page(find_parser())
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns


def _page(parser: argparse.ArgumentParser) -> str:
    commands = subcommands(parser)
    summaries = _summaries(parser)
    lines = [
        "# Command line",
        "",
        "<!-- Generated from the keras-drift argument parser by docs/gen_cli.py at every build: edit the parser, not this page. -->",
        "",
        "Generated from the argument parser of the installed `keras-drift` at every build of this site, so it",
        "lists exactly what `keras-drift COMMAND --help` says. Every command ends with one of the",
        "[exit codes](exit-codes.md). The nox sessions that call these commands are listed under",
        "[nox sessions](sessions.md).",
        "",
        "```text",
        parser.format_usage().strip(),
        "```",
        "",
        "| command | what it does |",
        "| --- | --- |",
    ]
    lines += [f"| [`{name}`](#keras-drift-{name}) | {_text(summaries.get(name, '') or sub.description or '')} |"
              for name, sub in commands.items()]
    for name, sub in commands.items():
        lines += [
            "",
            f"## keras-drift {name}",
            "",
            _text(summaries.get(name, "") or sub.description or ""),
            "",
            "```text",
            sub.format_usage().strip(),
            "```",
            "",
            *_options(sub),
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    page = render()
    if args:
        Path(args[0]).write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
