"""`inferplan estimate`: how fast, and why."""

from __future__ import annotations

import typer
from rich.console import Console

from inferplan.cli.loader import Source, load_scenario
from inferplan.deployment import Deployment, Workload
from inferplan.report.estimate_table import render_estimate
from inferplan.report.json_out import to_json
from inferplan.serving import Estimate, estimate, estimate_dict
from inferplan.units import GIB, InferplanError


def fitting_estimate(path: Source, calibration: str | None = None) -> Estimate:
    """The scenario's estimate, or a refusal when its batch does not fit in memory: the
    figures of a deployment that cannot run are not printed (exit 2, one line with the
    largest batch that fits; `inferplan memory` shows where the bytes go)."""
    return fitting_estimate_of(*load_scenario(path, calibration=calibration))


def fitting_estimate_of(deployment: Deployment, workload: Workload) -> Estimate:
    """`fitting_estimate` of a deployment and workload already built."""
    est = estimate(deployment, workload)
    if est.fits:
        return est
    raise does_not_fit(est)


def does_not_fit(est: Estimate) -> InferplanError:
    """The refusal of an estimate whose batch does not fit: the bytes per chip at its
    batch, the usable bytes, and the largest batch that fits."""
    m, w, d = est.memory.memory, est.workload, est.deployment
    field, value = {"static": ("workload.batch", est.batch),
                    "concurrency": ("workload.concurrency", est.batch)}.get(
        est.mode, ("deployment", f"{d.model.name} on {d.chips}x {d.chip.name}"))
    return InferplanError(
        field, value,
        f"does not fit: {float(m.total_bytes_per_chip) / GIB:.1f} GiB per chip at "
        f"{est.batch} sequences of {w.context_len} tokens, {m.usable_bytes_per_chip / GIB:.1f}"
        f" GiB usable; largest batch {est.memory.max_batch} (see inferplan memory)")


def run_estimate(scenarios: list[str] | None, json_out: bool,
                 calibration: str | None = None) -> None:
    paths: list[str | None] = list(scenarios) if scenarios else [None]
    if len(paths) == 1:
        est = fitting_estimate(paths[0], calibration)
        if json_out:
            print(to_json(estimate_dict(est)))
        else:
            render_estimate(est, Console())
        return
    results: list[dict[str, object]] = []
    ok = 0
    console = Console()
    for path in paths:
        try:
            est = fitting_estimate(path, calibration)
        except InferplanError as exc:
            results.append({"scenario": path, "error": str(exc)})
            if not json_out:
                console.print(f"[red]{path}: error:[/] {exc}", highlight=False)
            continue
        ok += 1
        results.append({"scenario": path, **estimate_dict(est)})
        if not json_out:
            console.rule(str(path))
            render_estimate(est, console)
    if json_out:
        print(to_json(results))
    if ok == 0:
        raise typer.Exit(2)
