"""`inferplan report`: one self-contained HTML page of estimates, simulations and searches
(the work: `actions/report.py`)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferplan.cli.app import CalibrationOpt, app


@app.command("report")
def report_command(
    scenarios: Annotated[list[str] | None, typer.Argument(
        help="Scenario files to estimate; none and no --space: the bundled default")] = None,
    out: Annotated[str, typer.Option(
        "--out", help="The HTML file to write (one file, plotly.js inside, no network)")]
    = "report.html",
    spaces: Annotated[list[str] | None, typer.Option(
        "--space", help="A search-space file: its ranked table and Pareto frontier "
                        "(repeat for several)")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Points in each ranked table")]
    = 10,
    simulate: Annotated[bool, typer.Option(
        "--simulate", help="Also simulate each scenario request by request: percentiles")]
    = False,
    simulate_top_k: Annotated[int, typer.Option(
        "--simulate-top", min=0, help="Simulate each space's best K in-flight points and "
                                      "rank them again (p90 limits)")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the simulated request lengths")] = 0,
    title: Annotated[str | None, typer.Option("--title", help="The page's title")] = None,
    sweeps: Annotated[list[str] | None, typer.Option(
        "--sweep", help="A sweep's results (inferplan sweep --out DIR, or its Parquet/CSV): "
                        "every point's figures and a chart (repeat for several)")] = None,
    calibration: CalibrationOpt = None,
) -> None:
    """An HTML report: each scenario's estimate (every term of TTFT and TPOT, the step
    split, memory per chip) and, with --simulate, its simulated percentiles; each space's
    ranked table and Pareto frontier chart; each sweep's results. Charts by plotly; the
    file opens offline."""
    from inferplan.cli.actions.report import run_report

    run_report(scenarios, out, spaces, top, simulate, simulate_top_k, seed, title, sweeps,
               calibration)
