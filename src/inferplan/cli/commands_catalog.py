"""`inferplan models` and `inferplan hardware`: the bundled catalogs (the work:
`actions/catalog.py`)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferplan.cli.app import app


@app.command("models")
def models_command(
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON list")] = False,
) -> None:
    """List the bundled model catalog."""
    from inferplan.cli.actions.catalog import run_models

    run_models(json_out)


@app.command("hardware")
def hardware_command(
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON list")] = False,
) -> None:
    """List the bundled accelerator catalog."""
    from inferplan.cli.actions.catalog import run_hardware

    run_hardware(json_out)
