"""`inferplan search`, `recommend` and `frontier`: the best deployment in a space."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from inferplan.cli.commands_search import By
from inferplan.cli.files import check_output_file, read_mapping, writing
from inferplan.cli.loader import load_chip, load_model
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
from inferplan.search.explain import why
from inferplan.search.frontier import frontiers
from inferplan.search.recommend import TargetKind, recommend
from inferplan.sim.rerank import simulate_top
from inferplan.units import InferplanError


def load_and_search(path: str) -> SearchResult:
    """Read, validate and evaluate a space; names resolve relative to the file."""
    raw = read_mapping(path, "space")
    base = Path(path).resolve().parent
    space = parse_space(raw, origin="space")
    return run_search(space, lambda r: load_model(r, base), lambda r: load_chip(r, base))


def run_search_command(space: str, top: int, simulate_top_k: int, json_out: bool) -> None:
    result = load_and_search(space)
    best = [(i, result.estimate(i)) for i in result.best(top)]
    specs = {i: spec for i, _ in best if (spec := result.speculative(i)) is not None}
    reason = why(result)
    slo = result.space.slo
    resimulated = simulate_top(
        [(i, result.deployment(i), result.workload(i)) for i in result.best(simulate_top_k)
         if result.group(i).speculative is None],
        result.objective, slo.ttft_s, slo.tpot_s, slo.e2e_latency_s) if simulate_top_k else []
    if json_out:
        record = search_record(result, best, frontiers(result), reason, specs)
        if simulate_top_k:
            record["simulated"] = [simulated_record(result, r) for r in resimulated]
        print(to_json(record))
        return
    console = Console()
    render_search(result, reason, best[0][1] if best else None, console, top,
                  specs.get(best[0][0]) if best else None)
    if simulate_top_k:
        render_resimulated(result, resimulated, console)


def run_recommend(space: str, target_tokens_per_s: float | None,
                  target_requests_per_s: float | None, by: By, top: int,
                  json_out: bool) -> None:
    if (target_tokens_per_s is None) == (target_requests_per_s is None):
        raise InferplanError("target", "--target-tokens-per-s/--target-requests-per-s",
                             "give exactly one of them")
    kind: TargetKind = "tokens" if target_tokens_per_s is not None else "requests"
    target = float(target_tokens_per_s if target_tokens_per_s is not None
                   else target_requests_per_s or 0.0)
    result = load_and_search(space)
    recs = recommend(result, target, kind, "cost" if by == By.cost else "chips", top)
    estimates = [result.estimate(r.index) for r in recs]
    text = f"{target:,.6g} {'output tokens' if kind == 'tokens' else 'requests'}/s"
    if json_out:
        print(to_json(recommend_record(
            result, recs, {"kind": kind, "per_s": target}, by.value, estimates)))
        return
    render_recommend(result, recs, text, by.value, estimates[0] if estimates else None,
                     Console())


def run_frontier(space: str, html: str | None, rows: int, json_out: bool) -> None:
    if html is not None:
        check_output_file(html, "--html")
    result = load_and_search(space)
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
