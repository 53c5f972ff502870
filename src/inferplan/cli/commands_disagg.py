"""`inferplan disagg`: prefill and decode pools chosen from a space, against co-location
(the work: `actions/disagg.py`)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferplan.cli.app import CalibrationOpt, app
from inferplan.cli.commands_search import JsonOpt, SpaceArg, TimingsOpt


@app.command("disagg")
def disagg_command(
    space: SpaceArg,
    top: Annotated[int, typer.Option("--top", min=1, help="How many decode designs to list")]
    = 5,
    json_out: JsonOpt = False,
    timings: TimingsOpt = False,
    calibration: CalibrationOpt = None,
) -> None:
    """Disaggregated serving: the best prefill and decode replicas of a space, how many
    prefill replicas feed a decode replica, and goodput per chip against the best
    co-located deployment under the same SLO."""
    from inferplan.cli.actions.disagg import run_disagg

    run_disagg(space, top, json_out, timings, calibration)
