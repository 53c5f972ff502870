"""`inferplan report`: gather the results `estimate`, `simulate`, `search` and `buckets`
produce (through their own actions), the decode step's time over batch and context
(`roofline.decode_step_grid`) and the assumptions under them, and write them as one
HTML page (`report.html`)."""

from __future__ import annotations

from rich.console import Console

from inferplan.cli.actions.estimate import fitting_estimate
from inferplan.cli.actions.report_assumptions import assumptions_of
from inferplan.cli.actions.report_buckets import bucket_plan
from inferplan.cli.actions.search import SearchAnswer, search_answer
from inferplan.cli.actions.simulate import check_seed, simulate_scenario
from inferplan.cli.files import check_output_file, write_text
from inferplan.cli.loader import Source
from inferplan.report.html.document import Part, SearchResults, report_html
from inferplan.report.html.sweep_section import SweepRows
from inferplan.roofline import decode_step_grid
from inferplan.search.frontier import frontiers
from inferplan.serving import Estimate
from inferplan.units import InferplanError

DEFAULT_NAME = "the bundled default scenario"


def estimate_parts(name: str, est: Estimate) -> list[Part]:
    """An estimate, its decode step's time over batch and context, its bucket plan when
    its engine compiles buckets, and its assumptions."""
    parts: list[Part] = [(name, est)]
    grid = decode_step_grid(est.deployment, est.workload)
    if grid is not None:
        parts.append((name, grid))
    plan = bucket_plan(est.deployment, est.workload, est.batch)
    if plan is not None:
        parts.append((name, plan))
    parts.append((name, assumptions_of(est.deployment)))
    return parts


def scenario_parts(path: str | None, simulate: bool, seed: int,
                   calibration: str | None = None) -> list[Part]:
    """A scenario's estimate (refused, exit 2, when its batch does not fit) with its
    step-time grid, bucket plan and assumptions and, when asked, its simulation; every
    step priced with `calibration` (`--calibration FILE`) where given."""
    source: Source = path
    name = DEFAULT_NAME if path is None else path
    parts = estimate_parts(name, fitting_estimate(source, calibration))
    if simulate:
        parts.append((name, simulate_scenario(source, seed, calibration=calibration)))
    return parts


def search_results(answer: SearchAnswer) -> SearchResults:
    """What the report shows of `inferplan search`'s answer, the space's frontiers, and
    the winner's step-time grid and assumptions."""
    winner = answer.best[0][1] if answer.best else None
    return SearchResults(answer.result, [i for i, _ in answer.best], winner,
                         frontiers(answer.result), answer.why, answer.resimulated,
                         None if winner is None else decode_step_grid(winner.deployment,
                                                                      winner.workload),
                         None if winner is None else assumptions_of(winner.deployment))


def sweep_rows(path: str) -> SweepRows:
    """A sweep's results folder (or its Parquet/CSV file) read back, for the report."""
    from inferplan.sweep import read_results

    try:
        return SweepRows(path, read_results(path))
    except InferplanError as exc:
        raise InferplanError("--sweep", path, exc.allowed) from None


def run_report(scenarios: list[str] | None, out: str, spaces: list[str] | None, top: int,
               simulate: bool, simulate_top_k: int, seed: int, title: str | None,
               sweeps: list[str] | None = None, calibration: str | None = None) -> None:
    check_seed(seed)
    check_output_file(out, "--out")
    if simulate_top_k and not spaces:
        raise InferplanError("--simulate-top", simulate_top_k, "only with --space")
    paths: list[str | None] = (list(scenarios) if scenarios
                               else ([] if spaces or sweeps else [None]))
    parts: list[Part] = [part for p in paths
                         for part in scenario_parts(p, simulate, seed, calibration)]
    parts += [(s, search_results(search_answer(s, top, simulate_top_k, calibration)))
              for s in spaces or []]
    parts += [(w, sweep_rows(w)) for w in sweeps or []]
    names = list(dict.fromkeys(name for name, _ in parts))
    html = report_html(title or "inferplan report: " + ", ".join(names), parts)
    write_text(out, html, "--out")
    Console().print(f"wrote {out} ({len(html.encode('utf-8')) / 1e6:.1f} MB): "
                    f"{len(paths)} scenario(s), {len(spaces or [])} space(s), "
                    f"{len(sweeps or [])} sweep(s)"
                    + (", simulated" if simulate or simulate_top_k else ""),
                    highlight=False)
