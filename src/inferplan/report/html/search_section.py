"""The report's section for one search space's `inferplan search`: what was evaluated
and dropped, the ranked table of the best points, the Pareto frontier chart (TPOT vs
output tokens/s per chip, with the decode split along it), why the winner wins, and the
best points simulated request by request when asked.

Everything comes from the `SearchResult` and what `inferplan search` derives from it
(the best points, `search.explain.why`, `search.frontier.frontiers`,
`sim.rerank.simulate_top`); this module formats it."""

from __future__ import annotations

from inferplan.report.html.markup import Cell, figure, paragraph, table
from inferplan.report.html.page import Section
from inferplan.report.search_report import format_objective, frontier_figure, label, score
from inferplan.search.explain import Why
from inferplan.search.frontier import Frontier
from inferplan.search.objectives import OBJECTIVES
from inferplan.search.result import SearchResult
from inferplan.sim.rerank import Resimulated

#: Feasible points drawn behind the frontier, best first (SVG: no WebGL needed).
CLOUD_POINTS = 5_000


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def counts(result: SearchResult) -> str:
    """Points evaluated and feasible, the objective, the SLO, and the drop reasons."""
    slo = result.space.slo
    limits = [f"{k} <= {v} s" for k, v in (("TTFT", slo.ttft_s), ("TPOT", slo.tpot_s),
                                           ("e2e", slo.e2e_latency_s)) if v is not None]
    text = (f"{result.evaluated:,} points evaluated in {result.elapsed_s:.2f} s; "
            f"{result.feasible:,} feasible; objective: {OBJECTIVES[result.objective].label}"
            + (f"; SLO (modelled p50): {', '.join(limits)}" if limits else ""))
    parts = [paragraph(text)]
    if result.dropped:
        parts.append(table(
            ["reason", "points", "example"],
            [[reason, f"{n:,}", result.drop_examples.get(reason, "")]
             for reason, n in result.dropped.items()],
            caption="dropped", numeric={1}))
    return "\n".join(parts)


def ranked_table(result: SearchResult, best: list[int]) -> str:
    """The best points, best first, with the objective's figure."""
    rows: list[list[Cell]] = []
    for k, i in enumerate(best, 1):
        per_m = float(result.cols.usd_per_million_tokens[i])
        rows.append([k, label(result, i), _ms(result.cols.ttft_s[i]),
                     _ms(result.cols.tpot_s[i]), f"{result.cols.tokens_per_s_per_chip[i]:,.1f}",
                     "n/a" if per_m != per_m else f"${per_m:.3f}",
                     format_objective(result.objective, score(result, i))])
    return table(["#", "deployment", "TTFT", "TPOT", "tok/s/chip", "$/M tok",
                  result.objective], rows, numeric={0, 2, 3, 4, 5, 6},
                 caption=f"best {len(best)} by {result.objective}")


def why_lines(result: SearchResult, why: Why) -> str:
    """The winner's margin over the runner-up and what limits its batch."""
    obj = result.objective
    lines = [f"The winner ({format_objective(obj, score(result, why.winner))}): "
             f"{label(result, why.winner)}. Its batch is limited by: {why.limit}."]
    if why.runner_up is not None:
        lines.append(f"Runner-up: {label(result, why.runner_up)}: "
                     f"{format_objective(obj, score(result, why.runner_up))}.")
    return "\n".join(paragraph(line) for line in lines)


def resimulated_table(result: SearchResult, rows: list[Resimulated]) -> str:
    """The best points simulated request by request, in their new order."""
    out: list[list[Cell]] = []
    for rank, r in enumerate(rows, 1):
        ttft, tpot = float(result.cols.ttft_s[r.index]), float(result.cols.tpot_s[r.index])
        if r.simulation is None:
            out.append([rank, label(result, r.index), _ms(ttft), "-", _ms(tpot), "-", "-",
                        "static batch: not simulated"])
            continue
        s, chips = r.simulation.summary, r.simulation.deployment.chips
        out.append([rank, label(result, r.index), _ms(ttft),
                    f"{s.ttft_s.p50 * 1e3:,.1f} / {s.ttft_s.p90 * 1e3:,.1f} ms", _ms(tpot),
                    f"{s.tpot_s.p50 * 1e3:,.2f} / {s.tpot_s.p90 * 1e3:,.2f} ms",
                    f"{s.output_tokens_per_s / chips:,.1f}",
                    "met" if r.meets_slo else "missed"])
    return table(["#", "deployment", "TTFT model", "TTFT p50 / p90", "TPOT model",
                  "TPOT p50 / p90", "tok/s/chip", "SLO (p90)"], out,
                 numeric={0, 2, 3, 4, 5, 6},
                 caption="the best points simulated request by request")


def search_section(result: SearchResult, best: list[int], fronts: list[Frontier],
                   why: Why | None, resimulated: list[Resimulated], anchor: str,
                   title: str) -> Section:
    """The section of one search; `anchor` also prefixes its figure's id."""
    parts = [counts(result)]
    if why is None or not best:
        parts.append(paragraph("No feasible point: see why each point was dropped above."))
        return Section(anchor, title, "\n".join(parts))
    parts += [ranked_table(result, best), why_lines(result, why)]
    if fronts:
        fig = frontier_figure(result, fronts, max_cloud=CLOUD_POINTS, webgl=False)
        parts.append(figure(fig, f"{anchor}-frontier", height_px=450 * (1 + len(fronts))))
    if resimulated:
        parts.append(resimulated_table(result, resimulated))
    return Section(anchor, title, "\n".join(parts))
