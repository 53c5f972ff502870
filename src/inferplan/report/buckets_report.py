"""Rendering of `inferplan buckets`: graph table with risk, padding, suggestion; JSON.

Computes nothing: every number comes from `inferplan.buckets` result records.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from inferplan.buckets.cuda_graphs import CaptureReport, VllmResult
from inferplan.buckets.footprint import GraphFootprint
from inferplan.buckets.optimise import Suggestion
from inferplan.buckets.padding import PaddingReport
from inferplan.buckets.plan import BucketsResult
from inferplan.buckets.xla import JetStreamResult, PrefillBucketReport
from inferplan.units import MIB

RISK_STYLE = {"high": "bold red", "medium": "yellow", "unknown": "cyan", "low": "green"}


def _mib(n: float) -> str:
    return f"{n / MIB:,.0f} MiB" if n >= MIB else f"{n / 1024:,.0f} KiB"


def _sci(x: float) -> str:
    return f"{x:.3g}"


def _secs(x: float) -> str:
    """Seconds, three digits, readable prefix: 0.000323 -> '323 µs', 0.004 -> '4.00 ms'."""
    scale, unit = next(((s, u) for s, u in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"))
                        if abs(x) >= s), (1e-9, "ns"))
    v = x / scale
    return f"{v:.{max(0, 3 - len(str(int(abs(v)))))}f} {unit}"


# ------------------------------------------------------------------------- JSON
def _graph_json(f: GraphFootprint, rank: int) -> dict[str, Any]:
    g = f.graph
    return {
        "name": g.name, "kind": g.kind, "list": g.furiosa_list, "origin": g.origin,
        "batch": g.batch, "kv": g.kv, "attn": g.attn, "q": g.q, "logits": g.logits,
        "tensors": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype,
                     "bytes": t.nbytes} for t in f.tensors],
        "attention_input_bytes": f.attention_input_bytes,
        "attention_output_bytes": f.attention_output_bytes,
        "mask_elements": f.mask_elements, "layer_weight_bytes": f.layer_weight_bytes,
        "kv_slice_bytes": f.kv_slice_bytes,
        "compile_kv_example_bytes": f.compile_kv_example_bytes,
        "memory_bytes": f.memory_bytes, "memory_ratio": f.memory_ratio,
        "sram_ratio": f.sram_ratio, "per_pe_input_bytes": f.per_pe_input_bytes,
        "per_pe_sram_ratio": f.per_pe_sram_ratio,
        "risk": f.risk.level, "risk_score": f.risk.score, "risk_rank": rank,
        "risk_known": f.risk.known, "risk_suspected": f.risk.suspected,
    }


def padding_json(p: PaddingReport) -> dict[str, Any]:
    return {
        "distribution": p.distribution, "unit": p.unit,
        "mean_output_tokens": p.mean_output_tokens,
        "wasted_cost_per_request": p.wasted_cost_per_request,
        "useful_cost_per_request": p.useful_cost_per_request, "wasted_share": p.wasted_share,
        "padded_cost_per_request": p.padded_cost_per_request,
        "wasted_fraction": p.wasted_fraction,
        "prefill": {"mean_prompt_tokens": p.prefill.mean_prompt_tokens,
                    "padded_tokens_per_request": p.prefill.padded_tokens_per_request,
                    "padded_share": p.prefill.padded_share,
                    "wasted_cost_per_request": p.prefill.wasted_cost_per_request,
                    "useful_cost_per_request": p.prefill.useful_cost_per_request,
                    "padded_cost_per_request": p.prefill.padded_cost_per_request,
                    "wasted_fraction": p.prefill.wasted_fraction,
                    "uncovered_share": p.prefill.uncovered_share},
        "decode": {"grouping": p.decode.grouping,
                   "padded_keys_per_token": p.decode.padded_keys_per_token,
                   "wasted_cost_per_token": p.decode.wasted_cost_per_token,
                   "useful_cost_per_token": p.decode.useful_cost_per_token,
                   "padded_cost_per_token": p.decode.padded_cost_per_token,
                   "wasted_fraction": p.decode.wasted_fraction,
                   "levels": [{"batch": lv.batch, "weight": lv.weight,
                               "padded_keys_per_token": lv.padded_keys_per_token,
                               "padded_slots_per_token": lv.padded_slots_per_token,
                               "wasted_cost_per_token": lv.wasted_cost_per_token,
                               "useful_cost_per_token": lv.useful_cost_per_token,
                               "uncovered_share": lv.uncovered_share,
                               "over_memory_cap_share": lv.over_memory_cap_share}
                              for lv in p.decode.levels]},
    }


def suggestion_json(s: Suggestion) -> dict[str, Any]:
    cfg = s.config
    return {
        "count": s.plan.count, "max_graphs": s.max_graphs, "split": s.split,
        "prefill_chunk_size": s.chunk_size, "risk_limit_mask_elements": s.risk_limit,
        "prefill_buckets": [list(b) for b in cfg.prefill_buckets],
        "decode_buckets": [list(b) for b in cfg.decode_buckets],
        "append_buckets": [list(b) for b in cfg.append_buckets],
        "max_prompt_len": cfg.max_prompt_len, "max_model_len": cfg.max_model_len,
        "graphs": [g.name for g in s.plan.graphs],
        "waste_reduction": s.waste_reduction,
        "prefill_padding_reduction": s.prefill_padding_reduction,
        "padding": padding_json(s.padding),
        "objective": s.objective, "time_waste_reduction": s.time_waste_reduction,
        "time_padding": None if s.time_padding is None else padding_json(s.time_padding),
    }


def buckets_json(r: BucketsResult) -> dict[str, Any]:
    """`inferplan buckets --json`: {"count", "graphs": [...], ...}."""
    plan = r.plan
    ranked = {id(f): i + 1 for i, f in enumerate(r.footprints)}
    in_order = sorted(r.footprints, key=lambda f: plan.graphs.index(f.graph))
    return {
        "model": r.model.name, "furiosa_llm_version": plan.version.id,
        "version_source": plan.version.source, "tensor_parallel_size": plan.tp,
        "count": plan.count, "configured": plan.configured,
        "added": [{"name": g.name, "kind": g.kind, "origin": g.origin, "logits": g.logits}
                  for g in plan.added],
        "preset": None if plan.preset is None else plan.preset.model_dump(),
        "graphs": [_graph_json(f, ranked[id(f)]) for f in in_order],
        "budget": {"fused_pes": r.budget.fused_pes, "devices": r.budget.devices,
                   "sram_bytes": r.budget.sram_bytes, "memory_bytes": r.budget.memory_bytes,
                   "source": r.budget.source},
        "deployment": {"weight_bytes_per_device": r.deployment.weight_bytes_per_device,
                       "memory_bytes": r.deployment.memory_bytes, "fits": r.deployment.fits},
        "risk_limit_mask_elements": r.risk_limit,
        "notes": list(plan.notes),
        "padding": None if r.padding is None else padding_json(r.padding),
        "suggestion": None if r.suggestion is None else suggestion_json(r.suggestion),
        "objective": r.objective, "step_time_source": r.step_time_source,
        "time_padding": None if r.time_padding is None else padding_json(r.time_padding),
    }


# ------------------------------------------------------------------------ tables
def _graph_table(r: BucketsResult) -> Table:
    b = r.budget
    t = Table(title=f"{r.plan.count} graphs, highest risk first (fused device: {b.fused_pes} "
              f"PE(s), SRAM {_mib(b.sram_bytes)}, memory window {b.memory_bytes / 1e9:.2f} GB)",
              title_justify="left")
    for col, just in (("graph", "left"), ("kind", "left"), ("q", "right"),
                      ("attn inputs", "right"), ("mask", "right"), ("x SRAM/PE", "right"),
                      ("b·q·attn", "right"), ("risk, score", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for f in r.footprints:
        g = f.graph
        mask = next(x.nbytes for x in f.tensors if x.name == "mask")
        t.add_row(g.name + ("" if g.logits == 1 else f" (logits {g.logits})"), g.kind,
                  str(g.q), _mib(f.attention_input_bytes), _mib(mask),
                  f"{f.per_pe_sram_ratio:.1f}", _sci(f.mask_elements),
                  f"[{RISK_STYLE[f.risk.level]}]{f.risk.level} {f.risk.score:.2f}[/]")
    return t


def _padding_table(title: str, reports: list[tuple[str, PaddingReport]]) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("")
    for name, _ in reports:
        t.add_column(name, justify="right")
    unit = reports[0][1].unit
    rows: list[tuple[str, list[str]]] = [
        ("prefill: padded tokens / request",
         [f"{p.prefill.padded_tokens_per_request:,.0f} ({p.prefill.padded_share:.0%})"
          for _, p in reports]),
        (f"prefill: wasted {unit} / request",
         [_sci(p.prefill.wasted_cost_per_request) for _, p in reports]),
        ("decode: padded keys / token",
         [f"{p.decode.padded_keys_per_token:,.0f}" for _, p in reports]),
        (f"decode: wasted {unit} / token",
         [_sci(p.decode.wasted_cost_per_token) for _, p in reports]),
        (f"wasted {unit} / request (share of useful)",
         [f"{_sci(p.wasted_cost_per_request)} ({p.wasted_share:.1%})" for _, p in reports]),
        ("prompts not covered", [f"{p.prefill.uncovered_share:.2%}" for _, p in reports]),
        ("decode steps not covered", [f"{p.decode.uncovered_share:.2%}" for _, p in reports]),
    ]
    for label, cells in rows:
        t.add_row(label, *cells)
    return t


def _time_table(title: str, reports: list[tuple[str, PaddingReport]]) -> Table:
    """Padding priced in seconds: step time at the bucket shapes (and unpadded), waste."""
    t = Table(title=title, title_justify="left")
    t.add_column("")
    for name, _ in reports:
        t.add_column(name, justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("prefill: step time / request, padded (unpadded)",
         [f"{_secs(p.prefill.padded_cost_per_request)} "
          f"({_secs(p.prefill.useful_cost_per_request)})" for _, p in reports]),
        ("prefill: wasted time / request (share)",
         [f"{_secs(p.prefill.wasted_cost_per_request)} ({p.prefill.wasted_fraction:.1%})"
          for _, p in reports]),
        ("decode: step time / token, padded (unpadded)",
         [f"{_secs(p.decode.padded_cost_per_token)} ({_secs(p.decode.useful_cost_per_token)})"
          for _, p in reports]),
        ("decode: wasted time / token (share)",
         [f"{_secs(p.decode.wasted_cost_per_token)} ({p.decode.wasted_fraction:.1%})"
          for _, p in reports]),
        ("wasted time / request (share)",
         [f"{_secs(p.wasted_cost_per_request)} ({p.wasted_fraction:.1%})" for _, p in reports]),
    ]
    for label, cells in rows:
        t.add_row(label, *cells)
    return t


def render_buckets(r: BucketsResult, console: Console) -> None:
    """The full terminal report."""
    plan, v = r.plan, r.plan.version
    console.print(f"[bold]{r.model.name}[/], furiosa-llm {v.id} rules, TP={plan.tp} "
                  f"({r.budget.fused_pes} fused PE(s) x {r.budget.devices} device(s))",
                  highlight=False)
    if plan.preset is not None:
        p = plan.preset
        console.print(f"Preset {p.key}: {p.prefill} prefill + {p.decode} decode + {p.append} "
                      f"append attention buckets = {plan.count}; {p.tokenwise} tokenwise "
                      "sizes. Exact shapes are not known here.", highlight=False)
    else:
        added = plan.added
        console.print(f"{plan.count} graphs = {plan.configured} configured buckets + "
                      f"{len(added)} added by the compiler:", highlight=False)
        for g in added:
            console.print(f"  {g.name}  {g.kind}, q={g.q}, logits {g.logits}  <- {g.origin}",
                          highlight=False)
        console.print(_graph_table(r))
        high = [f for f in r.footprints if f.risk.level in ("high", "medium")]
        for f in high:
            console.print(f"[{RISK_STYLE[f.risk.level]}]{f.graph.name}[/]: known: "
                          f"{f.risk.known}. Suspected: {f.risk.suspected}.", highlight=False)
    d = r.deployment
    verdict = "fits" if d.fits else "does NOT fit, whatever the buckets"
    console.print(f"Whole-model weights per fused device {d.weight_bytes_per_device / 1e9:.2f} "
                  f"GB vs memory window {d.memory_bytes / 1e9:.2f} GB: {verdict}.",
                  highlight=False)
    for note in plan.notes:
        console.print(f"note: {note}", highlight=False)
    if r.padding is None:
        return
    dm = r.decode_model
    console.print(f"Padding under '{r.distribution.name}' ({r.distribution.requests} requests, "
                  f"mean prompt {r.distribution.prompt.mean():.0f}, mean output "
                  f"{r.distribution.output.mean():.0f}); decode batches {list(dm.levels)} "
                  f"equally weighted unless configured, grouping {dm.grouping}, "
                  f"b·context cap {dm.max_batch_context:,}.", highlight=False)
    reports = [("configured", r.padding)]
    s = r.suggestion
    if s is not None:
        reports.append((f"suggested ({s.plan.count} graphs)", s.padding))
    console.print(_padding_table("Padding and wasted compute", reports))
    if r.time_padding is not None:
        timed = [("configured", r.time_padding)]
        if s is not None and s.time_padding is not None:
            timed.append((f"suggested ({s.plan.count} graphs)", s.time_padding))
        console.print(_time_table(f"Padding in step time ({r.step_time_source}; share = of "
                                  "the padded time)", timed))
    if s is not None:
        _render_suggestion(s, r, console)


def _render_suggestion(s: Suggestion, r: BucketsResult, console: Console) -> None:
    cfg = s.config
    limit = ("off" if s.risk_limit is None else
             f"b·q·attn <= {s.risk_limit:,} (largest known to compile on "
             f"{r.budget.fused_pes} PE(s))")
    timed = ("" if s.time_waste_reduction is None
             else f", wasted step time -{s.time_waste_reduction:.0%}")
    console.print(f"[bold]Suggestion[/] at <= {s.max_graphs} graphs ({s.plan.count} built), "
                  f"objective {s.objective}, split {s.split}, risk limit {limit}: "
                  f"wasted compute -{s.waste_reduction:.0%}, prefill padding "
                  f"-{s.prefill_padding_reduction:.0%}{timed}.", highlight=False)
    console.print(f"  prefill_chunk_size: {s.chunk_size}  max_prompt_len: {cfg.max_prompt_len}"
                  f"  max_model_len: {cfg.max_model_len}", highlight=False)
    console.print(f"  prefill_buckets: {[list(b) for b in cfg.prefill_buckets]}",
                  highlight=False)
    console.print(f"  decode_buckets: {[list(b) for b in cfg.decode_buckets]}", highlight=False)
    if cfg.append_buckets:
        console.print(f"  append_buckets: {[list(b) for b in cfg.append_buckets]}",
                      highlight=False)
    worst = max((f.risk.score for f in r.footprints), default=0.0)
    console.print(f"  largest b·q·attn in the suggestion: "
                  f"{max(g.batch * g.q * g.attn for g in s.plan.graphs):,} "
                  f"(configured set: worst risk score {worst:.2f})", highlight=False)


# ------------------------------------------------------------------ XLA and vLLM
def _prefill_bucket_json(p: PrefillBucketReport) -> dict[str, Any]:
    return {"buckets": list(p.buckets), "padded_tokens_per_request": p.padded_tokens_per_request,
            "padded_share": p.padded_share, "wasted_cost_per_request": p.wasted_cost_per_request,
            "unit": p.unit, "truncated_share": p.truncated_share}


def jetstream_json(r: JetStreamResult) -> dict[str, Any]:
    return {"count": len(r.given.buckets), "given": _prefill_bucket_json(r.given),
            "power_of_two": _prefill_bucket_json(r.power_of_two),
            "multiple_of_16": _prefill_bucket_json(r.free)}


def render_jetstream(r: JetStreamResult, console: Console) -> None:
    t = Table(title=f"Prefill length buckets ({len(r.given.buckets)} programs)",
              title_justify="left")
    for col in ("set", "buckets", "padded tokens / request", f"wasted {r.given.unit} / request",
                "truncated"):
        t.add_column(col)
    for name, p in (("given", r.given), ("best powers of two", r.power_of_two),
                    ("best multiples of 16", r.free)):
        t.add_row(name, ", ".join(map(str, p.buckets)),
                  f"{p.padded_tokens_per_request:,.0f} ({p.padded_share:.0%})",
                  _sci(p.wasted_cost_per_request), f"{p.truncated_share:.2%}")
    console.print(t)


def _capture_json(c: CaptureReport) -> dict[str, Any]:
    return {"sizes": list(c.sizes), "padded_slots_per_step": c.padded_slots_per_step,
            "padded_share": c.padded_share, "eager_share": c.eager_share}


def vllm_json(r: VllmResult) -> dict[str, Any]:
    return {"count": len(r.given.sizes), "given": _capture_json(r.given),
            "suggested": _capture_json(r.suggested)}


def render_vllm(r: VllmResult, console: Console) -> None:
    t = Table(title=f"CUDA-graph capture sizes ({len(r.given.sizes)} graphs)",
              title_justify="left")
    for col in ("set", "sizes", "padded slots / step", "eager steps"):
        t.add_column(col)
    for name, c in (("given", r.given), ("suggested", r.suggested)):
        t.add_row(name, ", ".join(map(str, c.sizes)),
                  f"{c.padded_slots_per_step:.2f} ({c.padded_share:.1%})",
                  f"{c.eager_share:.2%}")
    console.print(t)
