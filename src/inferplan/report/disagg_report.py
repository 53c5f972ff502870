"""Rendering of `inferplan disagg`: the best prefill/decode pools, their ratio, whole-replica
fleets, and the best co-located deployment of the same space. Computes nothing; the
numbers come from `inferplan.search.disagg_search`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from inferplan.report.search_report import engine_label, label, render_counts
from inferplan.search.disagg_search import DisaggResult, Pair, PoolCandidates


def _ms(x: float) -> str:
    return f"{x * 1e3:,.1f} ms"


def pool_label(result: DisaggResult, pool: PoolCandidates, i: int) -> str:
    """One replica of a pool: chips × chip, tp/pp, the engine where the space names one,
    the dtypes and lengths where the space varies them, the draft (with the decode
    cycle's γ), batch."""
    s, space = result.scenario(pool, i), result.space
    p, d = s["parallelism"], s["dtypes"]
    dep = result.deployment(pool, i)
    per = dep.layout.model_parallel / dep.chip.cores_per_chip
    parts = [f"{per:g}x {s['hardware']} tp{p['tp']}"
             + (f" pp{p['pp']}" if p["pp"] > 1 else "")
             + (f" adp{p['attention_dp']}" if p.get("attention_dp", 1) > 1 else "")
             + (f" {p['layout']}" if p.get("layout", "auto") != "auto" else "")]
    if len(space.model) > 1:
        parts.insert(0, str(s["model"]))
    if "engine" in s:
        parts.append(engine_label(s["engine"]))
    if len(space.dtypes.weights) > 1 or len(space.dtypes.kv) > 1:
        parts.append(f"w {d['weights']} kv {d['kv']}")
    if len(space.dtypes.compute) > 1 or space.dtypes.compute == ["auto"]:
        parts.append(f"c {d['compute']}")
    w = s["workload"]
    if len(space.workload.input_len) > 1 or len(space.workload.output_len) > 1:
        parts.append(f"{w['input_len']}/{w['output_len']} tok")
    spec = s.get("speculative")
    if spec is not None:
        gamma = int(pool.gamma[i])
        parts.append(f"draft {spec['draft']} α{spec['alpha']:g}"
                     + (f" γ{gamma}" if gamma else ""))
    parts.append(f"B={int(pool.batch[i])}")
    return ", ".join(parts)


def _value(result: DisaggResult, pair: Pair) -> str:
    if result.objective == "throughput_per_usd":
        return f"{pair.tokens_per_usd:,.0f}"
    return f"{pair.output_tokens_per_s_per_chip:,.1f}"


def render_pools(result: DisaggResult, console: Console) -> None:
    """Candidates per pool and why the dropped ones were dropped."""
    for name, pool in (("prefill", result.prefill), ("decode", result.decode)):
        kept = int((pool.status == -1).sum())
        drops = ", ".join(f"{r} {n:,}" for r, n in pool.dropped().items())
        console.print(f"{name} candidates: {pool.status.size:,}, kept {kept:,}"
                      + (f" (dropped: {drops})" if drops else ""))


def render_best(result: DisaggResult, console: Console) -> None:
    pair = result.pairs[0]
    pre, dec = result.prefill, result.decode
    p, d = pair.prefill, pair.decode
    fleet = result.fleet(pair)
    table = Table(title="best disaggregated fleet", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row("prefill replica", pool_label(result, pre, p))
    table.add_row("  step, KV hand-off", f"{_ms(float(pre.step_s[p]))} + "
                  f"{_ms(float(pre.transfer_s[p]))} ({result.space.disaggregated.kv_link})")
    table.add_row("  rate", f"{float(pre.requests_per_s[p]):,.3f} prompts/s per replica")
    table.add_row("decode replica", pool_label(result, dec, d))
    table.add_row("  rate", f"{float(dec.requests_per_s[d]):,.3f} requests/s per replica")
    table.add_row("prefill per decode replica", f"{pair.prefill_replicas_per_decode_replica:.2f}"
                  f" ({pair.prefill_chips_per_decode_chip:.2f} prefill chips per decode chip)")
    table.add_row("whole replicas", f"{fleet.prefill_replicas} prefill : {fleet.decode_replicas}"
                  f" decode on {fleet.chips:g} chips, {fleet.requests_per_s:,.2f} requests/s, "
                  f"{fleet.output_tokens_per_s_per_chip:,.1f} tok/s/chip")
    table.add_row("TTFT / TPOT / e2e", f"{_ms(pair.ttft_s)} / {_ms(pair.tpot_s)} / "
                  f"{pair.e2e_latency_s:,.2f} s")
    table.add_row("goodput", f"{pair.output_tokens_per_s_per_chip:,.1f} tok/s/chip"
                  + ("" if pair.tokens_per_usd != pair.tokens_per_usd
                     else f", {pair.tokens_per_usd:,.0f} tok/$"))
    console.print(table)


def render_comparison(result: DisaggResult, console: Console) -> None:
    co = result.colocated
    mfu = result.space.disaggregated.prefill_mfu
    if mfu is not None:
        console.print(f"note: prefill_mfu {mfu:g} prices the prefill pool's steps only; "
                      "co-located prompts run on the roofline")
    if not co.feasible:
        console.print("co-located: no point of the space meets the SLO")
        return
    i = int(co.order[0])
    console.print(f"best co-located under the same SLO: {label(co, i)}")
    console.print(f"  TTFT {_ms(float(co.cols.ttft_s[i]))}, TPOT {_ms(float(co.cols.tpot_s[i]))}"
                  f", {float(co.cols.tokens_per_s_per_chip[i]):,.1f} tok/s/chip")
    gain = result.gain()
    if gain is not None:
        verdict = ("disaggregation serves" if gain >= 1 else "co-located serving serves")
        factor = gain if gain >= 1 else 1 / gain
        console.print(f"[bold]{verdict} {factor:.2f}x[/] the {result.objective} of the other")


def render_top_pairs(result: DisaggResult, console: Console, top: int) -> None:
    pairs = result.best_per_design(top)
    table = Table(title=f"best {len(pairs)} pool designs (each at its best batches)",
                  title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("decode replica", ratio=1)
    table.add_column("prefill replica", ratio=1)
    unit = "tok/$" if result.objective == "throughput_per_usd" else "tok/s/chip"
    for col in ("P:G", "TTFT", "TPOT", unit):
        table.add_column(col, justify="right", no_wrap=True)
    for k, pair in enumerate(pairs, 1):
        table.add_row(str(k), pool_label(result, result.decode, pair.decode),
                      pool_label(result, result.prefill, pair.prefill),
                      f"{pair.prefill_replicas_per_decode_replica:.2f}", _ms(pair.ttft_s),
                      _ms(pair.tpot_s), _value(result, pair))
    console.print(table)


def render_disagg(result: DisaggResult, console: Console, top: int) -> None:
    console.print(f"disaggregated pools from the space in {result.elapsed_s:.2f} s "
                  "(co-located search included)")
    render_pools(result, console)
    if not result.pairs:
        console.print("[bold]no prefill/decode pair meets the SLO[/]")
    else:
        render_best(result, console)
        render_top_pairs(result, console, top)
    console.print()
    render_counts(result.colocated, console)
    render_comparison(result, console)


# ------------------------------------------------------------------ JSON
def _candidate(result: DisaggResult, pool: PoolCandidates, i: int) -> dict[str, Any]:
    record = {"scenario": result.scenario(pool, i), "batch": int(pool.batch[i]),
              "step_s": float(pool.step_s[i]), "kv_transfer_s": float(pool.transfer_s[i]),
              "requests_per_s_per_replica": float(pool.requests_per_s[i]),
              "chips_per_replica": float(pool.chips[i])}
    if int(pool.gamma[i]):
        record["gamma"] = int(pool.gamma[i])      # a drafting decode server's cycle
    return record


def pair_record(result: DisaggResult, pair: Pair) -> dict[str, Any]:
    fleet = result.fleet(pair)
    usd = pair.tokens_per_usd
    return {
        "prefill": _candidate(result, result.prefill, pair.prefill),
        "decode": _candidate(result, result.decode, pair.decode),
        "prefill_replicas_per_decode_replica": pair.prefill_replicas_per_decode_replica,
        "prefill_chips_per_decode_chip": pair.prefill_chips_per_decode_chip,
        "ttft_s": pair.ttft_s, "tpot_s": pair.tpot_s, "e2e_latency_s": pair.e2e_latency_s,
        "output_tokens_per_s_per_chip": pair.output_tokens_per_s_per_chip,
        "tokens_per_usd": None if usd != usd else usd,
        "whole_replicas": {"prefill": fleet.prefill_replicas, "decode": fleet.decode_replicas,
                           "chips": fleet.chips, "requests_per_s": fleet.requests_per_s,
                           "output_tokens_per_s_per_chip": fleet.output_tokens_per_s_per_chip},
    }


def disagg_record(result: DisaggResult, top: int, timings: bool = False) -> dict[str, Any]:
    """The JSON contract of `inferplan disagg --json`: the same space gives the same
    bytes; `timings` adds `elapsed_s`, the wall time of the search (`--timings`)."""
    co = result.colocated
    colocated: dict[str, Any] | None = None
    if co.feasible:
        i = int(co.order[0])
        colocated = {"scenario": co.scenario(i), "ttft_s": float(co.cols.ttft_s[i]),
                     "tpot_s": float(co.cols.tpot_s[i]),
                     "output_tokens_per_s_per_chip": float(co.cols.tokens_per_s_per_chip[i]),
                     "evaluated": co.evaluated, "feasible": co.feasible,
                     "dropped": co.dropped}
    record: dict[str, Any] = {
        "objective": result.objective,
        "evaluated": {"prefill": int(result.prefill.status.size),
                      "decode": int(result.decode.status.size)},
        "feasible": {"prefill": int((result.prefill.status == -1).sum()),
                     "decode": int((result.decode.status == -1).sum()),
                     "pairs": len(result.pairs)},
        "dropped": {"prefill": result.prefill.dropped(), "decode": result.decode.dropped()},
        "best": [pair_record(result, p) for p in result.best_per_design(top)],
        "colocated": colocated,
        "gain_over_colocated": result.gain(),
    }
    if timings:
        record["elapsed_s"] = result.elapsed_s
    return record
