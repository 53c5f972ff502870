"""`inferplan estimate`: how fast, and why."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from inferplan.cli.app import app
from inferplan.cli.loader import load_scenario
from inferplan.report.estimate_table import render_estimate
from inferplan.report.json_out import to_json
from inferplan.serving import estimate, estimate_dict
from inferplan.units import InferplanError


@app.command("estimate")
def estimate_command(
    scenarios: Annotated[list[str] | None, typer.Argument(
        help="Scenario files; omitted: the bundled default")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON (a list for several)")]
    = False,
) -> None:
    """Prefill and decode step times with every term named, TTFT, TPOT, throughput, cost."""
    paths: list[str | None] = list(scenarios) if scenarios else [None]
    if len(paths) == 1:
        est = estimate(*load_scenario(paths[0]))
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
            est = estimate(*load_scenario(path))
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
