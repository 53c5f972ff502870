"""`inferplan sweep`: every point of a spec's grid, answered on a process pool or a Ray
cluster, written to Parquet and CSV as it lands (the work: `actions/sweep.py`)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferplan.cli.app import app


@app.command("sweep")
def sweep_command(
    spec: Annotated[str, typer.Argument(help="Sweep spec file (scenario, grid, jobs)")],
    out: Annotated[str | None, typer.Option(
        help="Results folder (results.parquet, results.csv); a rerun resumes it "
             "[default: SPEC-NAME-sweep]")] = None,
    backend: Annotated[str, typer.Option(help="local (a process pool) or ray")] = "local",
    address: Annotated[str | None, typer.Option(
        help="Ray head HOST:PORT (ray start --head prints it); default: start Ray here")]
    = None,
    workers: Annotated[int | None, typer.Option(
        help="Processes (local) or CPUs of a Ray started here [default: this machine's]")]
    = None,
    shard_size: Annotated[int | None, typer.Option(
        "--shard-size", help="Points per task [default: about 8 tasks per worker]")] = None,
    retries: Annotated[int, typer.Option(help="Ray: times a task whose worker dies is run "
                                              "again")] = 3,
    connect_timeout: Annotated[float, typer.Option(
        "--connect-timeout", help="Ray: seconds to wait for the cluster to answer")] = 30.0,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Expand and check the spec, print the points; run nothing")]
    = False,
    timings: Annotated[bool, typer.Option(
        "--timings", help="Fill each row's elapsed_s and worker (left null by default, so "
                          "that a spec gives byte-identical results)")] = False,
) -> None:
    """Answer every point of a spec's grid (a scenario's fields crossed) with the closed
    form and/or the simulator, on a local process pool or on Ray; rows land in
    OUT/results.parquet and OUT/results.csv as shards finish, each point once, and a
    rerun skips the points already there (docs/sweep.md)."""
    from inferplan.cli.actions.sweep import run_sweep_command

    run_sweep_command(spec, out, backend, address, workers, shard_size, retries,
                      connect_timeout, dry_run, timings)
