"""Terminal rendering of `inferplan simulate`: what a benchmark client would print."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from inferplan.sim.run import Simulation


def render_simulation(sim: Simulation, console: Console) -> None:
    d, w, s = sim.deployment, sim.workload, sim.summary
    load = (f"{sim.concurrency} clients" if sim.concurrency is not None
            else f"{w.rate:g} requests/s ({w.arrival})")
    console.print(
        f"{d.model.name} on {d.chips}x {d.chip.name}, tp={d.layout.tp} pp={d.layout.pp} "
        f"dp={d.layout.dp} (round robin); "
        f"{d.engine.display_name} {d.engine.version}; {load}, "
        f"{s.requests} requests of {w.input_len} in / {w.output_len} out "
        f"(ratio {w.length_ratio:g}); seed {sim.seed}", highlight=False)
    table = Table(title="per request (ms)", title_justify="left")
    for col in ("", "mean", "p50", "p90", "p99"):
        table.add_column(col, justify="left" if not col else "right")
    for name, dist in (("TTFT", s.ttft_s), ("TPOT", s.tpot_s), ("end-to-end", s.e2e_s)):
        table.add_row(name, *(f"{v * 1e3:,.1f}" for v in
                              (dist.mean, dist.p50, dist.p90, dist.p99)))
    console.print(table)
    chips = d.chips
    console.print(
        f"{s.output_tokens_per_s:,.0f} output tok/s ({s.output_tokens_per_s / chips:,.1f} "
        f"per chip), {s.requests_per_s:.2f} requests/s over {s.duration_s:.1f} s, "
        f"{s.steps:,} steps, at most {s.max_running} running", highlight=False)
    if sim.closed_form_ttft_s is not None and sim.closed_form_tpot_s is not None:
        console.print(f"closed form: TTFT {sim.closed_form_ttft_s * 1e3:,.1f} ms, "
                      f"TPOT {sim.closed_form_tpot_s * 1e3:,.2f} ms", highlight=False)
