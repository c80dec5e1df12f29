"""Headless subcommands: ``orthogui-cli <command> ...`` (installed script) or
``python -m orthogui <command> ...``.

Each module in this package that defines ``COMMAND``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int`` is a subcommand; the registry is built from the modules found here, so a
new command is one new file. Errors are one clear line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from orthogui import __version__

SCRIPT = "orthogui-cli"  # the console script [project.scripts] installs


def _commands() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        name = getattr(module, "COMMAND", None)
        if name is None:
            continue
        if name in found:
            raise RuntimeError(f"two modules define the command {name!r}")
        found[name] = module
    return found


def _prog() -> str:
    """``orthogui-cli`` when started as the installed script, else ``orthogui``."""
    return SCRIPT if Path(sys.argv[0]).stem == SCRIPT else "orthogui"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_prog(), description="Headless OrthoGUI commands.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in sorted(_commands().items()):
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:  # warnings (e.g. a model card skipped): one line each
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        print("orthogui: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        from orthogui.cli._errors import describe

        print(f"orthogui {args.command}: {describe(exc)}", file=sys.stderr)
        return 1
