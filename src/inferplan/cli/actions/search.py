"""`inferplan search`, `recommend` and `frontier`: the best deployment in a space."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from inferplan.cli.commands_search import By
from inferplan.cli.files import check_output_file, writing
from inferplan.cli.loader import Source, flag_calibration, load_chip, load_model, load_raw
from inferplan.report.json_out import to_json
from inferplan.report.search_report import (
    frontier_record,
    recommend_record,
    render_frontier,
    render_recommend,
    render_search,
    search_record,
    write_frontier_html,
)
from inferplan.report.sim_report import render_resimulated, simulated_record
from inferplan.search import SearchResult, parse_space, run_search
from inferplan.search.budget import checked_size
from inferplan.search.explain import Why, why
from inferplan.search.frontier import frontiers
from inferplan.search.recommend import TargetKind, recommend
from inferplan.serving import Estimate
from inferplan.sim.rerank import Resimulated, simulate_top
from inferplan.speculative import SpeculativeResult
from inferplan.units import InferplanError


def load_and_search(path: Source, calibration: str | None = None) -> SearchResult:
    """Read, validate and evaluate a space (a file, or a mapping already in memory);
    names resolve relative to the file (a mapping's from the working folder); every
    point priced with `--calibration FILE` where given."""
    if path is None:
        raise InferplanError("space", None, "a search-space file or mapping")
    flag = flag_calibration(calibration)
    raw, base = load_raw(path, "space")
    space = parse_space(raw, origin="space")
    size = checked_size(space)          # refused here when its results cannot fit
    if not size.large:
        return run_search(space, lambda r: load_model(r, base), lambda r: load_chip(r, base),
                          step_time=flag)
    print(size.announcement(), file=sys.stderr, flush=True)
    with progress_bar("evaluating") as progress:
        return run_search(space, lambda r: load_model(r, base),
                          lambda r: load_chip(r, base), progress, step_time=flag)


@contextmanager
def progress_bar(description: str, console: Console | None = None
                 ) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over a search's points on `console` (stderr by default), drawn only
    on a terminal and erased when done; yields `run_search`'s `progress` callback."""
    out = console if console is not None else Console(stderr=True)
    bar = Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(),
                   TextColumn("points"), TimeElapsedColumn(), TimeRemainingColumn(),
                   console=out, transient=True, disable=not out.is_terminal)
    with bar:
        task = bar.add_task(description, total=None)

        def advance(done_points: int, total_points: int) -> None:
            bar.update(task, completed=done_points, total=total_points)

        yield advance


@dataclass(frozen=True)
class SearchAnswer:
    """What `inferplan search` reports: the evaluated space, its best `top` points with
    their estimates (and speculative decoding where they draft), why the winner wins, and
    the best `simulate_top_k` in-flight points simulated request by request."""

    result: SearchResult
    top: int
    best: list[tuple[int, Estimate]]
    speculative: dict[int, SpeculativeResult]
    why: Why | None
    simulate_top_k: int
    resimulated: list[Resimulated]

    def record(self, timings: bool = False) -> dict[str, Any]:
        """The JSON contract of `inferplan search --json` (`timings`: with `elapsed_s`)."""
        record = search_record(self.result, self.best, frontiers(self.result), self.why,
                               self.speculative, timings)
        if self.simulate_top_k:
            record["simulated"] = [simulated_record(self.result, r) for r in self.resimulated]
        return record

    def render(self, console: Console) -> None:
        """The tables `inferplan search` prints."""
        best = self.best
        render_search(self.result, self.why, best[0][1] if best else None, console, self.top,
                      self.speculative.get(best[0][0]) if best else None)
        if self.simulate_top_k:
            render_resimulated(self.result, self.resimulated, console)


def search_answer(space: Source, top: int, simulate_top_k: int,
                  calibration: str | None = None) -> SearchAnswer:
    """Evaluate a space and gather everything `inferplan search` reports on it."""
    result = load_and_search(space, calibration)
    best = [(i, result.estimate(i)) for i in result.best(top)]
    specs = {i: spec for i, _ in best if (spec := result.speculative(i)) is not None}
    slo = result.space.slo
    resimulated = simulate_top(
        [(i, result.deployment(i), result.workload(i)) for i in result.best(simulate_top_k)
         if result.group(i).speculative is None],
        result.objective, slo.ttft_s, slo.tpot_s, slo.e2e_latency_s) if simulate_top_k else []
    return SearchAnswer(result, top, best, specs, why(result), simulate_top_k, resimulated)


def run_search_command(space: str, top: int, simulate_top_k: int, json_out: bool,
                       timings: bool = False, calibration: str | None = None) -> None:
    answer = search_answer(space, top, simulate_top_k, calibration)
    if json_out:
        print(to_json(answer.record(timings)))
        return
    answer.render(Console())


def run_recommend(space: str, target_tokens_per_s: float | None,
                  target_requests_per_s: float | None, by: By, top: int,
                  json_out: bool, calibration: str | None = None) -> None:
    if (target_tokens_per_s is None) == (target_requests_per_s is None):
        raise InferplanError("target", "--target-tokens-per-s/--target-requests-per-s",
                             "give exactly one of them")
    kind: TargetKind = "tokens" if target_tokens_per_s is not None else "requests"
    target = float(target_tokens_per_s if target_tokens_per_s is not None
                   else target_requests_per_s or 0.0)
    result = load_and_search(space, calibration)
    recs = recommend(result, target, kind, "cost" if by == By.cost else "chips", top)
    estimates = [result.estimate(r.index) for r in recs]
    text = f"{target:,.6g} {'output tokens' if kind == 'tokens' else 'requests'}/s"
    if json_out:
        print(to_json(recommend_record(
            result, recs, {"kind": kind, "per_s": target}, by.value, estimates)))
        return
    render_recommend(result, recs, text, by.value, estimates[0] if estimates else None,
                     Console())


def run_frontier(space: str, html: str | None, rows: int, json_out: bool,
                 calibration: str | None = None) -> None:
    if html is not None:
        check_output_file(html, "--html")
    result = load_and_search(space, calibration)
    fronts = frontiers(result)
    if html is not None:
        with writing(html, "--html"):
            write_frontier_html(result, fronts, html)
    if json_out:
        print(to_json(frontier_record(result, fronts)))
        return
    render_frontier(result, fronts, Console(), rows)
    if html is not None:
        Console().print(f"wrote {html}")
