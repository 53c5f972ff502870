"""`inferplan verify-sharding`: each layout's collectives per layer, as the model
predicts them and as XLA compiles them (needs the `jax` extra; the work:
`actions/verify.py`)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferplan.cli.app import app


@app.command("verify-sharding")
def verify_sharding_command(
    devices: Annotated[int, typer.Option("--devices", help="Host CPU devices to shard over")
                       ] = 8,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Check each layout's per-layer collectives against XLA's compiled HLO."""
    from inferplan.cli.actions.verify import run_verify_sharding

    run_verify_sharding(devices, json_out)
