"""`inferplan simulate` and `capacity`: a benchmark client's closed loop, request by
request (the work: `actions/simulate.py`)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferplan.cli.app import CalibrationOpt, app


@app.command("simulate")
def simulate_command(
    scenarios: Annotated[list[str], typer.Argument(help="Scenario files (concurrency: C)")],
    seed: Annotated[int, typer.Option(help="Seed of the request lengths")] = 0,
    trace_out: Annotated[str | None, typer.Option(
        "--trace", help="Write a Chrome trace of the (first) run to this JSON file")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON (a list for several)")]
    = False,
    calibration: CalibrationOpt = None,
) -> None:
    """TTFT, TPOT and end-to-end latency (mean, p50, p90, p99) and throughput of one
    replica under the scenario's closed loop, with the closed form beside them; with a
    `disaggregated:` block, of its prefill and decode pools."""
    from inferplan.cli.actions.simulate import run_simulate

    run_simulate(scenarios, seed, trace_out, json_out, calibration)


@app.command("capacity")
def capacity_command(
    scenario: Annotated[str, typer.Argument(help="Scenario file (its lengths and deployment)")],
    ttft_p90: Annotated[float, typer.Option("--ttft-p90", help="p90 TTFT limit, seconds")],
    tpot_p90: Annotated[float, typer.Option("--tpot-p90", help="p90 TPOT limit, seconds")],
    seed: Annotated[int, typer.Option(help="Seed of the arrivals and lengths")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    calibration: CalibrationOpt = None,
) -> None:
    """The highest Poisson request rate one replica serves with p90 TTFT and p90 TPOT
    within the limits (MLPerf Server style), by bisection on simulated runs."""
    from inferplan.cli.actions.simulate import run_capacity

    run_capacity(scenario, ttft_p90, tpot_p90, seed, json_out, calibration)
