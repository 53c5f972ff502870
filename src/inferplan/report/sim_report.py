"""Terminal rendering of `inferplan simulate`: what a benchmark client would print."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from inferplan.deployment import Deployment
from inferplan.report.search_report import label
from inferplan.search import SearchResult
from inferplan.sim.rerank import Resimulated
from inferplan.sim.run import Simulation, lengths_text, pool_engine


def pool_engine_label(pool: Deployment) -> str:
    """A pool's engine and its scheduler limits: "TensorRT-LLM 1.2 32768 tok/step, 512
    seqs, graphs to 512"."""
    e = pool_engine(pool)
    return (f"{pool.engine.display_name} {e['version']} {e['max_num_batched_tokens']} "
            f"tok/step, {e['max_num_seqs']} seqs, graphs to {e['cuda_graph_max_batch']}")


def render_simulation(sim: Simulation, console: Console) -> None:
    d, w, s = sim.deployment, sim.workload, sim.summary
    load = (f"{sim.concurrency} clients" if sim.concurrency is not None
            else f"{w.rate:g} requests/s ({w.arrival})" if w.rate is not None
            else f"trace {w.trace}" if w.trace is not None
            else "offline (every request at t = 0)")
    if sim.prefill is None:
        where = (f"{d.model.name} on {d.chips}x {d.chip.name}, {d.layout.degrees()} "
                 f"({w.router.replace('_', ' ')})")
    else:
        own = sim.prefill.engine != d.engine     # each pool's engine, where they differ
        where = (f"{d.model.name}, disaggregated ({sim.router}, KV over {sim.kv_link}): "
                 + ", ".join(f"{name} {p.layout.dp}x [{p.chips // p.layout.dp}x {p.chip.name}"
                             f" tp={p.layout.tp} pp={p.layout.pp} ep={p.layout.ep}"
                             + (f"; {pool_engine_label(p)}" if own else "") + "]"
                             for name, p in (("prefill", sim.prefill), ("decode", d))))
    console.print(
        f"{where}; {d.engine.display_name} {d.engine.version}; {load}, "
        f"{s.requests} requests of {lengths_text(w)}; seed {sim.seed}", highlight=False)
    table = Table(title="per request (ms)", title_justify="left")
    for col in ("", "mean", "p50", "p90", "p99"):
        table.add_column(col, justify="left" if not col else "right")
    for name, dist in (("TTFT", s.ttft_s), ("TPOT", s.tpot_s), ("ITL (per token)", s.itl_s),
                       ("end-to-end", s.e2e_s)):
        table.add_row(name, *(f"{v * 1e3:,.1f}" for v in
                              (dist.mean, dist.p50, dist.p90, dist.p99)))
    console.print(table)
    chips = sim.chips
    console.print(
        f"{s.output_tokens_per_s:,.0f} output tok/s ({s.output_tokens_per_s / chips:,.1f} "
        f"per chip), {s.requests_per_s:.2f} requests/s over {s.duration_s:.1f} s, "
        f"{s.steps:,} steps, at most {s.max_running} running, {s.preemptions} preemptions",
        highlight=False)
    if w.warmup:
        console.print(f"after {w.warmup} warm-up requests ({sim.warmup_s:.1f} s, "
                      "not measured)", highlight=False)
    record = sim.to_dict().get("disaggregated")
    if isinstance(record, dict):
        console.print(
            f"prefill pool busy {record['prefill_busy_fraction']:.0%}; queue + prefill "
            f"{record['prefill_queue_and_step_s_mean'] * 1e3:,.1f} ms and KV hand-off "
            f"{record['kv_transfer_s_mean'] * 1e3:,.2f} ms per request (mean); steps, running "
            "and preemptions above are the decode pool's", highlight=False)
    if sim.closed_form_ttft_s is not None and sim.closed_form_tpot_s is not None:
        if sim.prefill is not None:
            console.print("saturated pools without queueing (disagg.disaggregated_serving, "
                          f"decode batch C/D): TTFT {sim.closed_form_ttft_s * 1e3:,.1f} ms, "
                          f"TPOT {sim.closed_form_tpot_s * 1e3:,.2f} ms", highlight=False)
            return
        console.print(f"closed form: TTFT {sim.closed_form_ttft_s * 1e3:,.1f} ms, "
                      f"TPOT {sim.closed_form_tpot_s * 1e3:,.2f} ms", highlight=False)


def simulated_record(result: SearchResult, r: Resimulated) -> dict[str, object]:
    """One re-ranked point for JSON: its scenario, the modelled and simulated figures."""
    record: dict[str, object] = {
        "index": r.index, "scenario": result.scenario(r.index),
        "modelled": {"ttft_s": float(result.cols.ttft_s[r.index]),
                     "tpot_s": float(result.cols.tpot_s[r.index])},
        "meets_slo_p90": r.meets_slo, "simulated_score": r.score}
    if r.simulation is not None:
        record["simulated"] = r.simulation.to_dict()
    return record


def render_resimulated(result: SearchResult, rows: list[Resimulated], console: Console) -> None:
    """The best points simulated, in their new order: each latency cell stacks the
    modelled figure over the simulated p50 and p90 (the table fits 80 terminal columns)."""
    table = Table(title="the best points simulated request by request (p90 against the SLO)",
                  title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("deployment", ratio=1, min_width=16)
    for col in ("TTFT (ms)", "TPOT (ms)"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("tok/s/chip", justify="right", no_wrap=True)
    table.add_column("SLO", no_wrap=True)
    for rank, r in enumerate(rows, start=1):
        ttft, tpot = float(result.cols.ttft_s[r.index]), float(result.cols.tpot_s[r.index])
        if r.simulation is None:
            table.add_row(str(rank), label(result, r.index), f"model {ttft * 1e3:,.1f}",
                          f"model {tpot * 1e3:,.2f}", "-", "static batch:\nnot simulated")
            continue
        s, chips = r.simulation.summary, r.simulation.deployment.chips
        table.add_row(
            str(rank), label(result, r.index),
            _stacked(ttft, s.ttft_s.p50, s.ttft_s.p90, 1), _stacked(tpot, s.tpot_s.p50,
                                                                   s.tpot_s.p90, 2),
            f"{s.output_tokens_per_s / chips:,.1f}", "met" if r.meets_slo else "missed")
    console.print(table)


def _stacked(model_s: float, p50_s: float, p90_s: float, digits: int) -> str:
    """Three lines of one cell: the modelled figure, the simulated p50 and p90 (ms)."""
    return "\n".join(f"{name} {value * 1e3:,.{digits}f}" for name, value in (
        ("model", model_s), ("p50", p50_s), ("p90", p90_s)))
