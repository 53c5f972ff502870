"""`inferplan search`, `recommend` and `frontier`: the best deployment in a space."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from inferplan.cli.app import app
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

SpaceArg = Annotated[str, typer.Argument(
    help="Search-space YAML/JSON: a scenario whose fields may hold lists and {min, max}")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON object")]


class By(str, Enum):
    chips = "chips"
    cost = "cost"


def load_and_search(path: str) -> SearchResult:
    """Read, validate and evaluate a space; names resolve relative to the file."""
    raw = read_mapping(path, "space")
    base = Path(path).resolve().parent
    space = parse_space(raw, origin="space")
    return run_search(space, lambda r: load_model(r, base), lambda r: load_chip(r, base))


@app.command("search")
def search_command(
    space: SpaceArg,
    top: Annotated[int, typer.Option("--top", min=1, help="How many of the best to list")] = 5,
    simulate_top_k: Annotated[int, typer.Option(
        "--simulate-top", min=0, help="Simulate the best K in-flight points request by "
                                      "request and rank them again (p90 limits)")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate every point of a space; the best under the SLO, and why it wins."""
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


@app.command("recommend")
def recommend_command(
    space: SpaceArg,
    target_tokens_per_s: Annotated[float | None, typer.Option(
        "--target-tokens-per-s", help="Output tokens/s the deployment must serve")] = None,
    target_requests_per_s: Annotated[float | None, typer.Option(
        "--target-requests-per-s", help="Requests/s the deployment must serve")] = None,
    by: Annotated[By, typer.Option("--by", help="Minimise chips or USD per hour")] = By.chips,
    top: Annotated[int, typer.Option("--top", min=1, help="Alternatives to list")] = 5,
    json_out: JsonOpt = False,
) -> None:
    """The fewest chips (or the cheapest) that serve a target rate under the SLO,
    in whole replicas of the best replica design."""
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


@app.command("frontier")
def frontier_command(
    space: SpaceArg,
    html: Annotated[str | None, typer.Option(
        "--html", help="Write a plotly figure of the frontier to this HTML file")] = None,
    rows: Annotated[int, typer.Option("--rows", min=2, help="Frontier points per table")]
    = 20,
    json_out: JsonOpt = False,
) -> None:
    """The TPOT vs tokens/s-per-chip Pareto frontier, with the decode step split along it."""
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
