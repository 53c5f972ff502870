"""The report's bucket plans, for a scenario whose engine compiles static shapes
(furiosa-llm, JetStream, vLLM on TPU): the graphs the configured buckets build (with
their compile risk), the padding they waste on the scenario's lengths, and the better
set `inferplan buckets` suggests; for XLA's prefill-length buckets, the padding of the
given lengths and of the best powers of two and multiples of 16.

The plan arrives computed (`cli/actions/report_buckets.py` runs what `inferplan
buckets` runs); this module lays it out."""

from __future__ import annotations

from dataclasses import dataclass

from inferplan.buckets.plan import BucketsResult
from inferplan.buckets.xla import JetStreamResult
from inferplan.report.html.markup import Cell, paragraph, table
from inferplan.report.html.page import Section


@dataclass(frozen=True)
class BucketPlan:
    """One scenario's bucket plan: the engine, what the plan was built from (the bucket
    config, lengths), and `inferplan buckets`' result."""

    engine: str
    basis: str
    result: BucketsResult | JetStreamResult


def _buckets(pairs: tuple[tuple[int, ...], ...]) -> str:
    return ", ".join("(" + ", ".join(f"{v:,}" for v in p) + ")" for p in pairs) or "-"


def furiosa_tables(r: BucketsResult) -> str:
    """The graphs (highest compile risk first), the configured and suggested buckets
    and their padding."""
    graphs: list[list[Cell]] = [
        [f.graph.name, f.graph.kind, f.graph.batch, f.graph.q, f.graph.attn,
         f"{f.memory_ratio:.1%}", f"{f.risk.level} {f.risk.score:.2f}"]
        for f in r.footprints]
    parts = [table(["graph", "kind", "batch", "q", "attention length", "of memory",
                    "compile risk"], graphs, numeric={2, 3, 4, 5},
                   caption=f"{r.plan.count} graphs of the configured buckets "
                           "(highest risk first)")]
    rows: list[list[Cell]] = []
    cfg = r.config
    if r.padding is not None:
        rows.append(["configured", _buckets(cfg.prefill_buckets), _buckets(cfg.decode_buckets),
                     r.plan.count, f"{r.padding.wasted_fraction:.1%}",
                     "-" if r.time_padding is None else f"{r.time_padding.wasted_fraction:.1%}"])
    s = r.suggestion
    if s is not None:
        rows.append(["suggested", _buckets(s.config.prefill_buckets),
                     _buckets(s.config.decode_buckets), s.plan.count,
                     f"{s.padding.wasted_fraction:.1%}",
                     "-" if s.time_padding is None else f"{s.time_padding.wasted_fraction:.1%}"])
    if rows:
        parts.append(table(["set", "prefill buckets (batch, length)",
                            "decode buckets (batch, length)", "graphs",
                            "padding: wasted FLOPs", "padding: wasted time"], rows,
                           numeric={3, 4, 5}, caption="bucket plan"))
    parts += [paragraph(note, "note") for note in r.plan.notes]
    return "\n".join(parts)


def xla_table(r: JetStreamResult) -> str:
    """Prefill-length buckets: given, best powers of two, best multiples of 16."""
    rows: list[list[Cell]] = [
        [name, ", ".join(f"{b:,}" for b in p.buckets),
         f"{p.padded_tokens_per_request:,.0f} ({p.padded_share:.0%})",
         f"{p.wasted_cost_per_request:.3g}", f"{p.truncated_share:.2%}"]
        for name, p in (("given", r.given), ("best powers of two", r.power_of_two),
                        ("best multiples of 16", r.free))]
    return table(["set", "buckets (tokens)", "padded tokens / request",
                  f"wasted {r.given.unit} / request", "truncated"], rows, numeric={2, 3, 4},
                 caption=f"prefill length buckets ({len(r.given.buckets)} programs)")


def buckets_section(plan: BucketPlan, anchor: str, title: str) -> Section:
    """The section of one scenario's bucket plan."""
    body = (furiosa_tables(plan.result) if isinstance(plan.result, BucketsResult)
            else xla_table(plan.result))
    return Section(anchor, title, "\n".join([
        paragraph(f"{plan.engine} compiles static shapes; {plan.basis}"), body]))
