"""`inferplan speculative`: does a draft model make decoding faster, and with which γ?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from inferplan.cli.app import app
from inferplan.cli.loader import load_model, load_scenario
from inferplan.report.json_out import to_json
from inferplan.report.speculative_report import render_speculative
from inferplan.speculative import DEFAULT_GAMMA_MAX, check_positive, speculative_result
from inferplan.units import InferplanError


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
) -> None:
    """Plain against speculative decoding (Leviathan et al. 2023): TPOT, tokens/s, speedup,
    the best γ, and whether the draft fits beside the target."""
    check_positive(gamma_max, "--gamma-max")
    if gamma is not None:
        check_positive(gamma, "--gamma")
    deployment, workload = load_scenario(scenario)
    try:
        draft_model = load_model(draft, Path.cwd())
    except InferplanError as exc:
        raise InferplanError("--draft", draft, exc.allowed) from None
    try:
        result = speculative_result(deployment, draft_model, workload, alpha, gamma, gamma_max)
    except InferplanError as exc:
        if exc.field != "draft":
            raise
        raise InferplanError("--draft", draft, exc.allowed) from None
    if json_out:
        print(to_json(result.to_dict()))
    else:
        render_speculative(result, Console())
