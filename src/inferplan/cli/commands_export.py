"""`inferplan export`: the engine's launch command, config and benchmark for a scenario
(the work: `actions/export.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inferplan.cli.app import app
from inferplan.units import EXPORT_ENGINES


@app.command("export")
def export_command(
    scenario: Annotated[str | None, typer.Argument(
        help="Scenario YAML/JSON; omitted: the bundled default")] = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", help=f"{' | '.join(EXPORT_ENGINES)}; default: the scenario's engine")]
    = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write serve.sh, bench.sh, plan.json (and TensorRT-LLM's "
        "extra_llm_api_options.yaml) into this folder")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the plan as JSON")] = False,
) -> None:
    """Launch command and config of the scenario's deployment, and the engine's benchmark."""
    from inferplan.cli.actions.export import run_export

    run_export(scenario, engine, out, json_out)
