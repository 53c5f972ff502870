"""`inferplan speculative`: does a draft model make decoding faster, and with which γ?
(the work: `actions/speculative.py`)"""

from __future__ import annotations

from typing import Annotated

import typer

from inferplan.cli.app import CalibrationOpt, app
from inferplan.units import DEFAULT_GAMMA_MAX


@app.command("speculative")
def speculative_command(
    draft: Annotated[str, typer.Option(
        "--draft", help="Draft model: a catalog name or a path to an HF config.json")],
    alpha: Annotated[float, typer.Option(
        "--alpha", help="Acceptance rate per drafted token, in [0, 1] (an assumption)")],
    gamma: Annotated[int | None, typer.Option(
        "--gamma", help="Draft tokens per step; omitted: the best of 1..--gamma-max")] = None,
    gamma_max: Annotated[int, typer.Option(
        "--gamma-max", help="Largest γ to try")] = DEFAULT_GAMMA_MAX,
    scenario: Annotated[str | None, typer.Argument(
        help="Scenario YAML/JSON (the target deployment); omitted: the bundled default")]
    = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
    calibration: CalibrationOpt = None,
) -> None:
    """Plain against speculative decoding (Leviathan et al. 2023): TPOT, tokens/s, speedup,
    the best γ, and whether the draft fits beside the target."""
    from inferplan.cli.actions.speculative import run_speculative

    run_speculative(draft, alpha, gamma, gamma_max, scenario, json_out, calibration)
