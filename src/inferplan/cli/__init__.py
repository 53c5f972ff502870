"""The `inferplan` command. Only this package prints or reads user files."""

from __future__ import annotations

import sys

from inferplan.cli import (  # noqa: F401  (each module registers its commands, lightly)
    commands_buckets,
    commands_calibrate,
    commands_catalog,
    commands_disagg,
    commands_estimate,
    commands_export,
    commands_memory,
    commands_report,
    commands_search,
    commands_simulate,
    commands_speculative,
    commands_sweep,
    commands_validate,
    commands_verify,
)
from inferplan.cli.app import app
from inferplan.units import InferplanError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point. Usage errors exit 2 (typer); a bad input prints one clear line, exit 2.
    `argv` (default: the command line) lets tests run a command in-process."""
    try:
        app(args=argv)
    except InferplanError as exc:
        from rich.console import Console

        Console(stderr=True, soft_wrap=True).print(f"error: {exc}", highlight=False,
                                                   markup=False)
        sys.exit(2)
