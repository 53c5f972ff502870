"""The typer application object every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="inferplan",
    help="Plan LLM inference deployments from first principles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
