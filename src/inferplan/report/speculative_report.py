"""Terminal rendering of `inferplan speculative`."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.table import Table

from inferplan.speculative import SpeculativeResult
from inferplan.units import format_bytes


def _ms(x: object) -> str:
    return f"{float(np.ravel(np.asarray(x))[0]) * 1e3:.2f}"


def render_speculative(result: SpeculativeResult, console: Console) -> None:
    """Plain against speculative decoding, the γ table, and the memory verdict."""
    t, c, lay = result.target, result.chosen, result.target.layout
    console.print(
        f"[bold]{t.model.name}[/] + draft [bold]{result.draft.model.name}[/] on {t.chips}x "
        f"{t.chip.display_name}, {lay.degrees()}; {t.efficiency}; weights "
        f"{t.dtypes.weights_label}, KV {t.dtypes.kv}, compute {t.dtypes.compute}")
    console.print(
        f"decode-only steps: batch {result.batch} per replica, {result.cached_tokens:,.0f} "
        f"cached tokens (mean of {result.workload.input_len} in / "
        f"{result.workload.output_len} out); α = {c.alpha:g} (per token, i.i.d.)")
    gamma = int(c.gamma)
    top = Table(show_header=True)
    for col in ("decoding", "γ", "E", "step ms", "TPOT ms", "output tok/s", "speedup"):
        top.add_column(col, justify="left" if col == "decoding" else "right")
    top.add_row("plain", "0", "1.00", _ms(c.decode_step_s), _ms(c.decode_step_s),
                f"{float(c.plain_output_tokens_per_s):,.0f}", "1.00x")
    how = "given" if result.gamma_given else "best"
    top.add_row("speculative", f"{gamma} ({how})", f"{float(c.expected_tokens):.2f}",
                _ms(c.cycle_s), _ms(c.tpot_s), f"{float(c.output_tokens_per_s):,.0f}",
                f"{float(c.speedup):.2f}x")
    console.print(top)
    g = result.table
    grid = Table(title=f"γ = 1..{g.gamma.size} (α = {c.alpha:g})", title_justify="left")
    for col in ("γ", "E", "draft step ms", "verify ms", "cycle ms", "TPOT ms",
                "output tok/s", "speedup"):
        grid.add_column(col, justify="right")
    best = int(np.argmin(g.tpot_s))
    for i in range(g.gamma.size):
        grid.add_row(f"{int(g.gamma[i])}{' *' if i == best else ''}",
                     f"{g.expected_tokens[i]:.3f}", _ms(g.draft_step_s[i]),
                     _ms(g.verify_step_s[i]), _ms(g.cycle_s[i]), _ms(g.tpot_s[i]),
                     f"{g.output_tokens_per_s[i]:,.0f}", f"{g.speedup[i]:.2f}x")
    console.print(grid)
    console.print(f"* least TPOT: γ = {int(g.gamma[best])}"
                  + ("" if float(g.speedup[best]) > 1.0
                     else "; no γ beats plain decoding here"))
    m = result.memory
    parts = (f"target {format_bytes(m.target_weights_bytes_per_chip)} weights + "
             f"{format_bytes(float(m.target_kv_bytes_per_chip))} KV, draft "
             f"{format_bytes(m.draft_weights_bytes_per_chip)} weights + "
             f"{format_bytes(float(m.draft_kv_bytes_per_chip))} KV, working "
             f"{format_bytes(float(m.working_bytes_per_chip))}")
    head = float(m.headroom_bytes_per_chip)
    verdict = (f"fits with the draft: {format_bytes(head)} free per chip" if result.fits
               else f"does not fit with the draft: {format_bytes(-head)} over per chip")
    console.print(f"{verdict} ({parts}; γ = {gamma}); largest batch per replica: "
                  f"{result.max_batch_with_draft} with the draft, {result.max_batch_plain} "
                  "without", highlight=False)
