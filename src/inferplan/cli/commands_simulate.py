"""`inferplan simulate`: a benchmark client's closed loop, request by request."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from inferplan.cli.app import app
from inferplan.cli.loader import load_scenario
from inferplan.report.json_out import to_json
from inferplan.report.sim_report import render_simulation
from inferplan.sim.run import simulate
from inferplan.units import InferplanError


@app.command("simulate")
def simulate_command(
    scenarios: Annotated[list[str], typer.Argument(help="Scenario files (concurrency: C)")],
    seed: Annotated[int, typer.Option(help="Seed of the request lengths")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON (a list for several)")]
    = False,
) -> None:
    """TTFT, TPOT and end-to-end latency (mean, p50, p90, p99) and throughput of one
    replica under the scenario's closed loop, with the closed form beside them."""
    if seed < 0:
        raise InferplanError("--seed", seed, "a non-negative integer")
    results = [simulate(*load_scenario(path), seed=seed) for path in scenarios]
    if json_out:
        records = [r.to_dict() for r in results]
        print(to_json(records[0] if len(records) == 1 else records))
        return
    console = Console()
    for path, sim in zip(scenarios, results, strict=True):
        if len(results) > 1:
            console.rule(path)
        render_simulation(sim, console)
