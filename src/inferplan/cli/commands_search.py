"""`inferplan search`, `recommend` and `frontier`: the best deployment in a space (the
work: `actions/search.py`)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from inferplan.cli.app import CalibrationOpt, app

SpaceArg = Annotated[str, typer.Argument(
    help="Search-space YAML/JSON: a scenario whose fields may hold lists and {min, max}")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON object")]
TimingsOpt = Annotated[bool, typer.Option(
    "--timings", help="Add the wall time (elapsed_s) to --json; left out by default, so "
                      "that the same space prints the same bytes")]


class By(str, Enum):
    chips = "chips"
    cost = "cost"


@app.command("search")
def search_command(
    space: SpaceArg,
    top: Annotated[int, typer.Option("--top", min=1, help="How many of the best to list")] = 5,
    simulate_top_k: Annotated[int, typer.Option(
        "--simulate-top", min=0, help="Simulate the best K in-flight points request by "
                                      "request and rank them again (p90 limits)")] = 0,
    json_out: JsonOpt = False,
    timings: TimingsOpt = False,
    calibration: CalibrationOpt = None,
) -> None:
    """Evaluate every point of a space; the best under the SLO, and why it wins."""
    from inferplan.cli.actions.search import run_search_command

    run_search_command(space, top, simulate_top_k, json_out, timings, calibration)


@app.command("recommend")
def recommend_command(
    space: SpaceArg,
    target_tokens_per_s: Annotated[float | None, typer.Option(
        "--target-tokens-per-s", help="Output tokens/s the deployment must serve")] = None,
    target_requests_per_s: Annotated[float | None, typer.Option(
        "--target-requests-per-s", help="Requests/s the deployment must serve")] = None,
    by: Annotated[By, typer.Option("--by", help="Minimise chips or USD per hour")] = By.chips,
    top: Annotated[int, typer.Option("--top", min=1, help="Alternatives to list")] = 5,
    json_out: JsonOpt = False,
    calibration: CalibrationOpt = None,
) -> None:
    """The fewest chips (or the cheapest) that serve a target rate under the SLO,
    in whole replicas of the best replica design."""
    from inferplan.cli.actions.search import run_recommend

    run_recommend(space, target_tokens_per_s, target_requests_per_s, by, top, json_out,
                  calibration)


@app.command("frontier")
def frontier_command(
    space: SpaceArg,
    html: Annotated[str | None, typer.Option(
        "--html", help="Write a plotly figure of the frontier to this HTML file")] = None,
    rows: Annotated[int, typer.Option("--rows", min=2, help="Frontier points per table")]
    = 20,
    json_out: JsonOpt = False,
    calibration: CalibrationOpt = None,
) -> None:
    """The TPOT vs tokens/s-per-chip Pareto frontier, with the decode step split along it."""
    from inferplan.cli.actions.search import run_frontier

    run_frontier(space, html, rows, json_out, calibration)
