"""`inferplan simulate` and `capacity`: a benchmark client's closed loop, request by request."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

from inferplan.cli.files import check_output_file, write_text
from inferplan.cli.loader import Source, load_pools, load_scenario, load_trace, scenario_folder
from inferplan.deployment import Deployment, Workload
from inferplan.report.chrome_trace import chrome_trace
from inferplan.report.json_out import to_json
from inferplan.report.sim_report import render_simulation
from inferplan.sim.capacity import capacity
from inferplan.sim.run import Simulation, simulate, simulate_pools
from inferplan.units import InferplanError


def check_seed(seed: int, field: str = "--seed") -> None:
    if seed < 0:
        raise InferplanError(field, seed, "a non-negative integer")


def simulate_scenario(path: Source, seed: int, base: Path | None = None,
                      calibration: str | None = None) -> Simulation:
    """One scenario's simulation: its disaggregated pools when it has a
    `disaggregated:` block, else its replicas; a trace resolves next to the scenario (a
    mapping's references from `base`, default the working folder); `calibration`
    (`--calibration FILE`) prices every step."""
    folder = base if base is not None and isinstance(path, Mapping) else scenario_folder(path)
    pools = load_pools(path, base, calibration=calibration)
    if pools is None:
        return simulate_built(*load_scenario(path, base, calibration=calibration), seed,
                              folder)
    prefill, decode, workload, block = pools
    trace = (load_trace(workload.trace, folder, timed=workload.concurrency is None)
             if workload.trace is not None else None)
    return simulate_pools(prefill, decode, workload, seed, trace, block.router,
                          block.kv_link)


def simulate_built(deployment: Deployment, workload: Workload, seed: int,
                   base: Path) -> Simulation:
    """The simulation of a deployment and workload already built; a workload's trace
    resolves from `base`."""
    trace = (load_trace(workload.trace, base, timed=workload.concurrency is None)
             if workload.trace is not None else None)
    return simulate(deployment, workload, seed, trace)


def run_simulate(scenarios: list[str], seed: int, trace_out: str | None,
                 json_out: bool, calibration: str | None = None) -> None:
    check_seed(seed)
    if trace_out is not None:
        check_output_file(trace_out, "--trace")
    results = [simulate_scenario(path, seed, calibration=calibration) for path in scenarios]
    if trace_out is not None:
        write_text(trace_out, json.dumps(chrome_trace(results[0].run)), "--trace")
    if json_out:
        records = [r.to_dict() for r in results]
        print(to_json(records[0] if len(records) == 1 else records))
        return
    console = Console()
    for path, sim in zip(scenarios, results, strict=True):
        if len(results) > 1:
            console.rule(path)
        render_simulation(sim, console)


def run_capacity(scenario: str, ttft_p90: float, tpot_p90: float, seed: int,
                 json_out: bool, calibration: str | None = None) -> None:
    check_seed(seed)
    deployment, workload = load_scenario(scenario, calibration=calibration)
    lengths = (load_trace(workload.trace, scenario_folder(scenario), timed=False)
               if workload.trace is not None else None)
    result = capacity(deployment, workload, ttft_p90, tpot_p90, seed, lengths=lengths)
    chips = deployment.layout.tp * deployment.layout.pp
    if json_out:
        print(to_json(result.to_dict(chips)))
        return
    console = Console()
    console.print(f"capacity of one replica ({chips} chips): {result.rate:.2f} requests/s "
                  f"with p90 TTFT <= {ttft_p90 * 1e3:g} ms and p90 TPOT <= {tpot_p90 * 1e3:g} ms"
                  f" ({result.failing_rate:.2f} requests/s fails; {result.runs} simulations)",
                  highlight=False)
    if result.summary is not None:
        s = result.summary
        console.print(f"at capacity: TTFT p90 {s.ttft_s.p90 * 1e3:,.1f} ms, TPOT p90 "
                      f"{s.tpot_s.p90 * 1e3:,.2f} ms, {s.output_tokens_per_s / chips:,.1f} "
                      "output tok/s per chip", highlight=False)
