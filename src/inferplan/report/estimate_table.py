"""Terminal rendering of `inferplan estimate`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from inferplan.serving import Estimate, explain

#: The named terms of a step's exposed time, in the order the tables list them.
TERMS = ("compute", "weights", "kv", "communication", "overhead")


def describe(est: Estimate) -> str:
    """The deployment and workload of an estimate in one line (no markup)."""
    d = est.deployment
    lay = d.layout
    return (f"{d.model.name} on {d.chips}x {d.chip.display_name} "
            f"({d.topology.describe()}), {lay.degrees()}"
            f"; weights {d.dtypes.weights_label}, KV {d.dtypes.kv}, compute {d.dtypes.compute};"
            f" {d.efficiency}; {est.mode} batch {est.batch} per replica"
            f" ({est.workload.input_len} in / {est.workload.output_len} out)"
            + ("" if d.speculative is None else
               f"; speculative: draft {d.speculative.draft.name}, gamma {d.speculative.gamma},"
               f" alpha {d.speculative.alpha:g}"))


def render_estimate(est: Estimate, console: Console) -> None:
    """Latency and throughput, then the step-time split of prefill and decode."""
    lay = est.deployment.layout
    name = est.deployment.model.name
    console.print(f"[bold]{name}[/]{describe(est)[len(name):]}")
    if not est.fits:
        console.print(f"[red]does not fit[/]: the largest batch is {est.memory.max_batch}")
    top = Table(show_header=True, title_justify="left")
    # headers of one short word each (or words that wrap) keep 80 columns readable
    for col in ("TTFT", "TPOT", "e2e", "output tok/s", "tok/s/chip", "req/s", "$/M out tok"):
        top.add_column(col, justify="right", no_wrap=" " not in col)
    usd = est.usd_per_million_output_tokens
    top.add_row(f"{est.ttft_s * 1e3:.1f} ms", f"{est.tpot_s * 1e3:.2f} ms",
                f"{est.e2e_latency_s:.2f} s", f"{est.output_tokens_per_s:,.0f}",
                f"{est.output_tokens_per_s_per_chip:,.1f}", f"{est.requests_per_s:.2f}",
                "n/a" if usd is None else f"${usd:.3f}")
    console.print(top)
    if est.ttft_frontend_s > 0:
        console.print(f"TTFT includes {est.ttft_frontend_s * 1e3:.1f} ms outside the steps: "
                      f"{est.deployment.engine.name}'s front end (scheduler.frontend_s)")
    console.print(step_table(est))
    if lay.layout == "auto" and est.prefill.layout != "none":
        console.print(f"layout (auto, least communication per phase): prefill "
                      f"{est.prefill.layout}, decode {est.decode.layout}")
    console.print(explain(est))


def step_table(est: Estimate) -> Table:
    """The exposed step time of prefill and decode, one row per term (a row per phase
    would need nine columns, more than 80 terminal columns hold)."""
    split = Table(title="step time, exposed (ms)", title_justify="left")
    split.add_column("term")
    phases = (("prefill", est.prefill), ("decode (mean step)", est.decode))
    for name, _ in phases:
        split.add_column(name, justify="right")
    for term in TERMS:
        split.add_row(term, *(f"{p.breakdown_s[term] * 1e3:.3f}" for _, p in phases),
                      end_section=term == TERMS[-1])
    split.add_row("total", *(f"{p.latency_s * 1e3:.3f}" for _, p in phases),
                  end_section=True)
    split.add_row("bound", *(p.bound for _, p in phases))
    split.add_row("MFU", *(f"{p.mfu:.1%}" for _, p in phases))
    return split
