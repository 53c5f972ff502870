"""Rendering of `inferplan search`, `recommend` and `frontier`: terminal tables, JSON
records and the frontier's plotly HTML. Computes nothing; the numbers come from
`inferplan.search` and `serving.estimate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from inferplan.report.estimate_table import render_estimate
from inferplan.report.speculative_report import render_speculative
from inferplan.search.explain import Why
from inferplan.search.frontier import Frontier
from inferplan.search.objectives import OBJECTIVES, objective_value
from inferplan.search.recommend import Recommendation
from inferplan.search.result import SearchResult
from inferplan.serving import Estimate, estimate_dict
from inferplan.speculative import SpeculativeResult

TERMS = ("weights", "kv", "compute", "communication", "overhead")
#: the decode split's terms as the frontier's footnote names them
SPLIT_NAMES = {"weights": "weight loading", "kv": "KV loading", "compute": "compute",
               "communication": "communication", "overhead": "fixed overhead"}
SHORT = {"weights": "wts", "kv": "kv", "compute": "comp", "communication": "comm",
         "overhead": "ovh"}


# ------------------------------------------------------------------ labels
def engine_label(spec: Any) -> str:
    """An engine as a space gives it, in a few words: `vllm`; a block with overrides
    `vllm max_num_batched_tokens=2048` (its version, which must match, left out)."""
    if not isinstance(spec, dict):
        return str(spec)
    rest = [f"{k}={v}" for k, v in spec.items() if k not in ("name", "version")]
    return " ".join([str(spec.get("name")), *rest])


def label(result: SearchResult, i: int, batch: bool = True, workload: bool = True,
          replica: bool = False) -> str:
    """A point in one line: model (when varied), chips × chip, engine (when the space
    names one), layout, dtypes, lengths (when varied), batch. `replica`: one
    data-parallel replica (chips / dp, no dp)."""
    s = result.scenario(i)
    p, d = s["parallelism"], s["dtypes"]
    parts = []
    varied = result.varied_axes
    if "model" in varied:
        parts.append(str(s["model"]))
    ep = (f" ep{p['ep']}" if p["ep"] > 1 else "") + (
        f" adp{p['attention_dp']}" if p.get("attention_dp", 1) > 1 else "")
    if replica:
        dep = result.deployment(i)
        per = dep.layout.model_parallel / dep.chip.cores_per_chip
        parts.append(f"{per:g}x {s['hardware']}")
        layout = f"tp{p['tp']} pp{p['pp']}{ep}"
    else:
        parts.append(f"{s['chips']}x {s['hardware']}" + (f" {s['topology']}" if "topology"
                                                          in s else ""))
        layout = f"tp{p['tp']} pp{p['pp']} dp{p['dp']}{ep}"
    if "engine" in s:
        parts.append(engine_label(s["engine"]))
    parts.append(layout)
    parts.append(f"w {d['weights']} kv {d['kv']} c {d['compute']}")
    if "efficiency" in varied:
        parts.append(str(s["efficiency"]))
    w = s["workload"]
    if workload and ("input_len" in varied or "output_len" in varied):
        parts.append(f"{w['input_len']}/{w['output_len']} tok")
    if batch:
        parts.append(f"C={w['concurrency']}" if "concurrency" in w else
                     f"B=max({int(result.batch[i])})" if w.get("batch") == "max" else
                     f"B={w['batch']}")
    spec = s.get("speculative")
    if spec is not None:
        parts.append(f"draft {spec['draft']} α{spec['alpha']:g} γ{spec['gamma']}")
    return ", ".join(parts)


def format_objective(name: str, score: float) -> str:
    """The objective's value in its unit: 1,234.5 tok/s/chip, 17.3 ms, 8 chips."""
    value = objective_value(name, score)
    unit = OBJECTIVES[name].unit
    if unit == "s":
        return f"{value * 1e3:,.2f} ms"
    if unit == "chips":
        return f"{value:,.0f} chips"
    return f"{value:,.1f} {unit}"


def score(result: SearchResult, i: int) -> float:
    return float(OBJECTIVES[result.objective].score(result.cols)[i])


def _ms(x: float) -> str:
    return f"{x * 1e3:,.1f} ms"


# ------------------------------------------------------------------ search
def render_counts(result: SearchResult, console: Console) -> None:
    """Evaluated, feasible, and every drop reason with one example."""
    console.print(f"[bold]{result.evaluated:,}[/] points evaluated in "
                  f"{result.elapsed_s:.2f} s; [bold]{result.feasible:,}[/] feasible"
                  + (f" (objective: {OBJECTIVES[result.objective].label})"))
    slo = result.space.slo
    limits = [f"{k} ≤ {v} s" for k, v in (("TTFT", slo.ttft_s), ("TPOT", slo.tpot_s),
                                           ("e2e", slo.e2e_latency_s)) if v is not None]
    if limits:
        console.print("SLO (modelled p50): " + ", ".join(limits))
    if result.dropped:
        table = Table(title="dropped", title_justify="left")
        table.add_column("reason")
        table.add_column("points", justify="right")
        table.add_column("example")
        for reason, count in result.dropped.items():
            table.add_row(reason, f"{count:,}", result.drop_examples.get(reason, ""))
        console.print(table)


#: Objectives whose figure (or its inverse: tokens per USD and USD per million tokens
#: rank alike) a column of the top table already shows: no column of their own.
SHOWN = {"throughput_per_chip": "tok/s/chip", "throughput_per_usd": "$/M tok",
         "min_tpot": "TPOT", "min_ttft": "TTFT"}


def objective_header(name: str) -> str:
    """A short column header for an objective's figure: its unit (`tok/$`, `chips`), or
    `ms` for the latency objectives (`format_objective` prints them in ms)."""
    unit = OBJECTIVES[name].unit
    return "ms" if unit == "s" else unit


def render_top(result: SearchResult, console: Console, top: int) -> None:
    """The best points, best first; the objective's own column only when no other column
    shows its figure (the table fits 80 terminal columns)."""
    table = Table(title=f"best {min(top, result.feasible)} by {result.objective}",
                  title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("deployment", ratio=1, min_width=16)
    for col in ("TTFT", "TPOT", "tok/s/chip", "$/M tok"):
        table.add_column(col, justify="right", no_wrap=True)
    extra = result.objective not in SHOWN
    if extra:
        table.add_column(objective_header(result.objective), justify="right", no_wrap=True)
    for k, i in enumerate(result.best(top), 1):
        per_m = float(result.cols.usd_per_million_tokens[i])
        table.add_row(str(k), label(result, i), _ms(result.cols.ttft_s[i]),
                      _ms(result.cols.tpot_s[i]),
                      f"{result.cols.tokens_per_s_per_chip[i]:,.1f}",
                      "n/a" if per_m != per_m else f"${per_m:.3f}",
                      *([format_objective(result.objective, score(result, i))] if extra
                        else []))
    console.print(table)


def render_why(result: SearchResult, why: Why, console: Console) -> None:
    """Why the winner wins: its margin, what limits it, the best of each alternative."""
    obj = result.objective
    win = score(result, why.winner)
    console.print(f"[bold]why it wins[/] ({OBJECTIVES[obj].label}: "
                  f"{format_objective(obj, win)})")
    if why.runner_up is not None:
        console.print(f"  runner-up: {label(result, why.runner_up)}: "
                      f"{format_objective(obj, score(result, why.runner_up))}")
    console.print(f"  its batch is limited by: {why.limit}")
    if not why.alternatives:
        return
    table = Table(title="best of each alternative", title_justify="left")
    table.add_column("axis", no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("best point", ratio=1, min_width=16)
    table.add_column(objective_header(obj), justify="right", no_wrap=True)
    table.add_column("vs winner", justify="right", no_wrap=True)
    for alt in why.alternatives:
        value = ("plain" if alt.value is None and alt.axis in ("draft", "alpha", "gamma")
                 else engine_label(alt.value) if alt.axis == "engine" else str(alt.value))
        if alt.index is None:
            table.add_row(alt.axis, value, f"none feasible (mostly {alt.reason})", "", "")
            continue
        s = score(result, alt.index)
        delta = (objective_value(obj, s) / objective_value(obj, win) - 1) if win else 0.0
        table.add_row(alt.axis, value, label(result, alt.index),
                      format_objective(obj, s), f"{delta:+.1%}")
    console.print(table)


def render_search(result: SearchResult, why: Why | None, winner: Estimate | None,
                  console: Console, top: int,
                  winner_speculative: SpeculativeResult | None = None) -> None:
    """Counts, the top-N table, the winner's full estimate (and its speculative decoding,
    if it drafts) and why it wins."""
    render_counts(result, console)
    if why is None or winner is None:
        console.print("[red]no feasible point[/]: see why each point was dropped above")
        return
    render_top(result, console, top)
    console.rule("the winner")
    render_estimate(winner, console)
    if winner_speculative is not None:
        console.rule("the winner decodes speculatively: decode replaced by draft + verify")
        render_speculative(winner_speculative, console)
    render_why(result, why, console)


def point_record(result: SearchResult, i: int, est: Estimate,
                 spec: SpeculativeResult | None = None) -> dict[str, Any]:
    """One point for JSON: its scenario, the figures the search ranked it by,
    `serving.estimate_dict` (plain decoding) and, for a speculative point, `inferplan
    speculative`'s record."""
    record = {"scenario": result.scenario(i),
              "objective": {"name": result.objective,
                            "value": objective_value(result.objective, score(result, i))},
              "search": {"ttft_s": float(result.cols.ttft_s[i]),
                         "tpot_s": float(result.cols.tpot_s[i]),
                         "output_tokens_per_s_per_chip": float(
                             result.cols.tokens_per_s_per_chip[i])},
              **estimate_dict(est)}
    if spec is not None:
        record["speculative"] = spec.to_dict()
    return record


def frontier_records(result: SearchResult, fronts: list[Frontier]) -> list[dict[str, Any]]:
    """Every frontier point with its workload shape, figures and decode split."""
    out = []
    for f in fronts:
        for p in f.points:
            out.append({"input_len": f.input_len, "output_len": f.output_len,
                        "scenario": result.scenario(p.index), "batch": int(result.batch[p.index]),
                        "ttft_s": p.ttft_s, "tpot_s": p.tpot_s,
                        "output_tokens_per_s_per_chip": p.tokens_per_s_per_chip,
                        "decode_split_s": p.decode_split_s})
    return out


def why_record(result: SearchResult, why: Why | None) -> dict[str, Any] | None:
    if why is None:
        return None
    obj = result.objective
    return {
        "limit": why.limit,
        "runner_up": None if why.runner_up is None else {
            "scenario": result.scenario(why.runner_up),
            "objective_value": objective_value(obj, score(result, why.runner_up))},
        "alternatives": [{
            "axis": a.axis, "value": a.value, "reason": a.reason,
            "scenario": None if a.index is None else result.scenario(a.index),
            "objective_value": None if a.index is None else objective_value(
                obj, score(result, a.index))} for a in why.alternatives]}


def search_record(result: SearchResult, best: list[tuple[int, Estimate]],
                  fronts: list[Frontier], why: Why | None,
                  speculative: dict[int, SpeculativeResult] | None = None,
                  timings: bool = False) -> dict[str, Any]:
    """The JSON contract of `inferplan search --json`: the same space gives the same
    bytes; `timings` adds `elapsed_s`, the wall time of the evaluation (`--timings`)."""
    spec = speculative or {}
    record: dict[str, Any] = {
        "evaluated": result.evaluated, "feasible": result.feasible,
        "dropped": dict(result.dropped), "drop_examples": dict(result.drop_examples),
        "objective": result.objective, "slo": result.space.slo.model_dump()}
    if timings:
        record["elapsed_s"] = result.elapsed_s
    return {**record,
            "best": [point_record(result, i, est, spec.get(i)) for i, est in best],
            "frontier": frontier_records(result, fronts), "why": why_record(result, why)}


# --------------------------------------------------------------- frontier
def thin(count: int, rows: int) -> list[int]:
    """At most `rows` positions out of `count`, evenly spread, both ends kept.
    thin(240, 5) == [0, 60, 120, 179, 239]."""
    if count <= rows:
        return list(range(count))
    return sorted({round(k * (count - 1) / (rows - 1)) for k in range(rows)})


def render_frontier(result: SearchResult, fronts: list[Frontier], console: Console,
                    rows: int = 20) -> None:
    """One table per workload shape: the frontier (at most `rows` of its points, evenly
    spread), lowest TPOT first, with the decode split."""
    render_counts(result, console)
    for f in fronts:
        table = Table(title=f"frontier at {f.input_len} in / {f.output_len} out tokens "
                      f"({len(f.points)} of {f.candidates:,} feasible points)",
                      title_justify="left")
        for col in ("TPOT", "tok/s/chip", "TTFT"):
            table.add_column(col, justify="right", no_wrap=True)
        table.add_column("deployment", ratio=1)
        table.add_column("split %", justify="right", no_wrap=True)
        shown = thin(len(f.points), rows)
        if len(shown) < len(f.points):
            table.caption = (f"{len(shown)} of the {len(f.points)} frontier points, evenly "
                             "spread; --rows, --json or --html for all")
        for k in shown:
            p = f.points[k]
            total = sum(p.decode_split_s.values()) or 1.0
            table.add_row(_ms(p.tpot_s), f"{p.tokens_per_s_per_chip:,.1f}", _ms(p.ttft_s),
                          label(result, p.index, workload=False),
                          "·".join(f"{100 * p.decode_split_s.get(t, 0.0) / total:.0f}"
                                   for t in TERMS))
        console.print(table)
    console.print("split %: mean exposed share of the decode step, in order: "
                  + ", ".join(SPLIT_NAMES[t] for t in TERMS))


def frontier_figure(result: SearchResult, fronts: list[Frontier], max_cloud: int = 20_000,
                    webgl: bool = True) -> Any:
    """A plotly figure: every feasible point (the best `max_cloud`) and the frontier (TPOT
    vs tok/s/chip), and under it the decode split along each frontier (stacked, ms per
    step). `webgl`: draw the cloud with WebGL (fast for many points) rather than SVG."""
    import plotly.graph_objects as go  # type: ignore[import-untyped]
    from plotly.subplots import make_subplots  # type: ignore[import-untyped]

    rows = 1 + len(fronts)
    fig = make_subplots(rows=rows, cols=1, vertical_spacing=0.08,
                        subplot_titles=["TPOT vs output tokens/s per chip"] + [
                            f"decode split along the frontier, {f.input_len} in / "
                            f"{f.output_len} out" for f in fronts])
    order = result.order[:max_cloud]
    cloud = go.Scattergl if webgl else go.Scatter
    fig.add_trace(cloud(
        x=result.cols.tokens_per_s_per_chip[order], y=result.cols.tpot_s[order] * 1e3,
        mode="markers", name="feasible points", marker={"size": 3, "color": "#bbbbbb"},
        text=[label(result, int(i)) for i in order[:2000]], hoverinfo="text+x+y"),
        row=1, col=1)
    for k, f in enumerate(fronts):
        x = [p.tokens_per_s_per_chip for p in f.points]
        fig.add_trace(go.Scatter(
            x=x, y=[p.tpot_s * 1e3 for p in f.points], mode="lines+markers",
            name=f"frontier {f.input_len}/{f.output_len}",
            text=[label(result, p.index) for p in f.points], hoverinfo="text+x+y"),
            row=1, col=1)
        for term in TERMS:
            fig.add_trace(go.Scatter(x=x, y=[p.decode_split_s.get(term, 0.0) * 1e3
                                             for p in f.points],
                                     name=term, legendgroup=term, showlegend=k == 0,
                                     mode="lines", stackgroup=f"split{k}"),
                          row=2 + k, col=1)
        fig.update_yaxes(title_text="decode step (ms)", row=2 + k, col=1)
        fig.update_xaxes(title_text="output tokens/s per chip", row=2 + k, col=1)
    fig.update_yaxes(title_text="TPOT (ms)", row=1, col=1)
    fig.update_xaxes(title_text="output tokens/s per chip", row=1, col=1)
    fig.update_layout(height=450 * rows,
                      title=f"inferplan frontier: {result.space.name or 'search space'}")
    return fig


def write_frontier_html(result: SearchResult, fronts: list[Frontier], path: str | Path,
                        max_cloud: int = 20_000) -> None:
    """`frontier_figure` as a plotly page of its own (`inferplan frontier --html`)."""
    frontier_figure(result, fronts, max_cloud).write_html(str(path), include_plotlyjs=True)


# --------------------------------------------------------------- recommend
def render_recommend(result: SearchResult, recs: list[Recommendation], target: str,
                     by: str, winner: Estimate | None, console: Console) -> None:
    """The recommended replica design and count, alternatives, the replica's estimate."""
    render_counts(result, console)
    if not recs or winner is None:
        console.print(f"[red]no feasible design[/] for {target}")
        return
    table = Table(title=f"{target}: fewest {'USD/hour' if by == 'cost' else 'chips'}",
                  title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("replica design", ratio=1)
    for col in ("replicas", "chips", "$/hour", "tok/s", "req/s", "TTFT", "TPOT"):
        table.add_column(col, justify="right", no_wrap=True)
    for k, r in enumerate(recs, 1):
        table.add_row(str(k), label(result, r.index, replica=True), str(r.replicas),
                      str(r.chips),
                      "n/a" if r.usd_per_hour is None else f"${r.usd_per_hour:,.2f}",
                      f"{r.tokens_per_s:,.0f}", f"{r.requests_per_s:,.2f}",
                      _ms(result.cols.ttft_s[r.index]), _ms(result.cols.tpot_s[r.index]))
    console.print(table)
    best = recs[0]
    console.print(f"[bold]recommended[/]: {best.replicas} replica(s) of "
                  f"{label(result, best.index, replica=True)}, {best.chips} chips in all "
                  f"({best.replica_tokens_per_s:,.0f} tok/s per replica)")
    console.rule("the evaluated point the replica design comes from")
    render_estimate(winner, console)


def recommend_record(result: SearchResult, recs: list[Recommendation], target: dict[str, Any],
                     by: str, estimates: list[Estimate]) -> dict[str, Any]:
    """The JSON contract of `inferplan recommend --json`."""
    return {"evaluated": result.evaluated, "feasible": result.feasible,
            "dropped": dict(result.dropped), "target": target, "by": by,
            "slo": result.space.slo.model_dump(),
            "recommendations": [{
                "replicas": r.replicas, "chips": r.chips, "usd_per_hour": r.usd_per_hour,
                "output_tokens_per_s": r.tokens_per_s, "requests_per_s": r.requests_per_s,
                "replica_output_tokens_per_s": r.replica_tokens_per_s,
                "replica_chips": r.replica_chips, "scenario": result.scenario(r.index),
                "estimate": estimate_dict(est)} for r, est in zip(recs, estimates, strict=True)]}


def frontier_record(result: SearchResult, fronts: list[Frontier]) -> dict[str, Any]:
    """The JSON contract of `inferplan frontier --json`."""
    return {"evaluated": result.evaluated, "feasible": result.feasible,
            "dropped": dict(result.dropped), "slo": result.space.slo.model_dump(),
            "frontier": frontier_records(result, fronts)}
