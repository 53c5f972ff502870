"""`inferplan estimate`: how fast, and why (the work: `actions/estimate.py`)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferplan.cli.app import CalibrationOpt, app


@app.command("estimate")
def estimate_command(
    scenarios: Annotated[list[str] | None, typer.Argument(
        help="Scenario files; omitted: the bundled default")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON (a list for several)")]
    = False,
    calibration: CalibrationOpt = None,
) -> None:
    """Prefill and decode step times with every term named, TTFT, TPOT, throughput, cost.
    A batch that does not fit in memory is refused (exit 2) with the largest that does."""
    from inferplan.cli.actions.estimate import run_estimate

    run_estimate(scenarios, json_out, calibration)
