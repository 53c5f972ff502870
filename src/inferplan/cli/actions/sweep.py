"""`inferplan sweep`: a spec's points answered on a backend, written as they land."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from inferplan.cli.actions.sweep_point import run_shard
from inferplan.cli.files import read_mapping
from inferplan.cli.loader import load_chip, load_model
from inferplan.engines import resolve_engine
from inferplan.sweep.backends import check_backend, open_backend
from inferplan.sweep.expand import Point, expand, point_error
from inferplan.sweep.keys import canonical_json
from inferplan.sweep.results import RESULTS_CSV, RESULTS_PARQUET, ResultSink
from inferplan.sweep.shards import auto_shard_points, make_shards
from inferplan.sweep.spec import SweepSpecIn, parse_spec
from inferplan.units import InferplanError

#: Seconds `--backend ray --address` waits for a cluster to answer.
CONNECT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SweepRun:
    """What a sweep did: its points, those already in the folder, those run now (and of
    them, those answered with an error), and the time the run took."""

    name: str
    points: int
    jobs: dict[str, int]
    skipped: int
    written: int
    invalid: int
    rows: int
    backend: str
    workers: int
    shards: int
    shard_points: int
    elapsed_s: float
    out: Path

    @property
    def points_per_s(self) -> float:
        """Points answered per second of the run (connecting and folding included)."""
        return self.written / self.elapsed_s if self.elapsed_s > 0 else 0.0


def load_spec(path: str) -> tuple[SweepSpecIn, list[Point], Path]:
    """The spec file's points and the folder its references resolve from; the catalog
    names and engines it uses are checked once here, so a typo is one line, not a column
    of errors."""
    spec = parse_spec(read_mapping(path, "spec"), origin="spec")
    base = Path(path).resolve().parent
    points = expand(spec)
    keys = list(spec.grid)
    checked: set[tuple[str, str]] = set()
    for point in points:
        for field, check in (("model", lambda r: load_model(r, base)),
                             ("hardware", lambda r: load_chip(r, base)),
                             ("engine", resolve_engine)):
            value = point.scenario.get(field)
            seen = (field, canonical_json(value))
            if value is None or seen in checked:
                continue
            checked.add(seen)
            try:
                check(value)
            except InferplanError as exc:
                raise point_error(exc, keys, point.axes) from None
    return spec, points, base


def _progress() -> Progress:
    """The bar on stderr: points done of those to run, elapsed, time left; cleared when
    the sweep ends (the summary stays), so an error after it is still one line."""
    return Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("points"), TimeElapsedColumn(), TextColumn("eta"),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=True)


def run_sweep(spec_path: str, out: str | None, backend_name: str, address: str | None,
              workers: int | None, shard_points: int | None, retries: int,
              connect_timeout_s: float = CONNECT_TIMEOUT_S,
              show_progress: bool = True, timings: bool = False) -> SweepRun:
    """Answer every point of the spec not already in `out`, writing rows as shards land;
    what it did. `timings` fills each row's `elapsed_s` and `worker`."""
    start = time.perf_counter()
    if shard_points is not None and shard_points < 1:
        raise InferplanError("--shard-size", shard_points, "a positive integer")
    spec, points, base = load_spec(spec_path)
    folder = Path(out) if out is not None else Path(f"{Path(spec_path).stem}-sweep")
    if folder.exists() and not folder.is_dir():
        raise InferplanError("--out", str(folder), "is a file; give a folder")
    check_backend(backend_name, workers, address, retries, connect_timeout_s)
    sink = ResultSink.open(folder)
    todo = [p for p in points if p.key not in sink.keys]
    written = invalid = shards = size = 0
    used, parallel = backend_name, 0
    try:
        if todo:
            backend = open_backend(backend_name, workers, address, retries,
                                   connect_timeout_s)
            used, parallel = backend.name, backend.workers
            try:
                size = shard_points or auto_shard_points(len(todo), backend.workers)
                batches = make_shards(todo, size, str(base), spec.seed, timings)
                shards = len(batches)
                landing = backend.run(batches, run_shard)
                with _progress() if show_progress else _NoProgress() as progress:
                    task = progress.add_task("sweep", total=len(todo))
                    for shard, rows in landing:
                        written += sink.write(rows)
                        invalid += sum(1 for r in rows if r["error"] is not None)
                        progress.advance(task, len(shard.points))
            finally:
                backend.close()
    finally:
        rows_total = sink.finish()
    return SweepRun(name=spec.name or Path(spec_path).stem, points=len(points),
                    jobs=dict(Counter(p.job for p in points)),
                    skipped=len(points) - len(todo), written=written, invalid=invalid,
                    rows=rows_total, backend=used, workers=parallel, shards=shards,
                    shard_points=size, elapsed_s=time.perf_counter() - start, out=folder)


class _NoProgress:
    """Progress's interface, showing nothing (benchmarks, the Python API)."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def add_task(self, description: str, total: int) -> TaskID:
        return TaskID(0)

    def advance(self, task: TaskID, advance: float) -> None:
        return None


def run_sweep_command(spec_path: str, out: str | None, backend_name: str,
                      address: str | None, workers: int | None, shard_points: int | None,
                      retries: int, connect_timeout_s: float, dry_run: bool,
                      timings: bool = False) -> None:
    console = Console(soft_wrap=True, highlight=False)
    if dry_run:
        spec, points, _ = load_spec(spec_path)
        counts = Counter(p.job for p in points)
        console.print(f"{len(points):,} points ("
                      f"{', '.join(f'{n} {j}' for j, n in counts.items())})"
                      f" from {len(spec.grid)} grid entries; nothing run")
        for point in points[:10]:
            console.print(f"  {point.key}  {point.job:8}  {canonical_json(point.axes)}")
        if len(points) > 10:
            console.print(f"  ... and {len(points) - 10:,} more")
        return
    run = run_sweep(spec_path, out, backend_name, address, workers, shard_points, retries,
                    connect_timeout_s, timings=timings)
    jobs = ", ".join(f"{n} {j}" for j, n in run.jobs.items())
    console.print(f"sweep {run.name}: {run.points:,} points ({jobs}); {run.written:,} run now"
                  f" ({run.invalid:,} invalid: see the error column), {run.skipped:,} "
                  f"already in {run.out}/")
    if run.shards:
        console.print(f"{run.backend} backend, {run.workers} worker"
                      f"{'s' if run.workers != 1 else ''}, {run.shards} shards of"
                      f" up to {run.shard_points} points: {run.elapsed_s:.1f} s, "
                      f"{run.points_per_s:.1f} points/s")
    console.print(f"results: {run.out / RESULTS_PARQUET}, {run.out / RESULTS_CSV} "
                  f"({run.rows:,} rows); read them back with inferplan.sweep.read_results")
