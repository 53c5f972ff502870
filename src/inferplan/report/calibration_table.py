"""`inferplan calibrate`'s table: each timed step, measured and predicted before and
after the fit, held-out points marked, then the median errors and what was fitted.
Renders the calibration record (`calibrate.records.CalibrationResult.file_mapping`);
computes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from inferplan.units import MS_PER_S


def _pct(value: float) -> str:
    return f"{value * 100:+.1f}%"


def render_calibration(record: Mapping[str, Any], console: Console) -> None:
    """The per-point table, the held-out summary line, and the fitted ratios."""
    device, model, fit = record["device"], record["model"], record["fit"]
    table = Table(title=f"{model['name']} (L={model['L']} D={model['D']} F={model['F']} "
                        f"N={model['N']} K={model['K']} H={model['H']}, {model['dtype']}) "
                        f"on {device['chip']['display_name']}: step time, ms "
                        f"({fit['statistic']} of {fit['repeats']} runs)")
    table.add_column("step", no_wrap=True)
    for name in ("measured", "IQR", "before", "after", "error before", "error after"):
        table.add_column(name, justify="right")
    table.add_column("held out")
    for p in record["points"]:
        table.add_row(p["label"], f"{p['measured_s'] * MS_PER_S:,.3f}",
                      f"{p['spread'] * 100:.0f}%", f"{p['predicted_before_s'] * MS_PER_S:,.3f}",
                      f"{p['predicted_after_s'] * MS_PER_S:,.3f}", _pct(p["error_before"]),
                      _pct(p["error_after"]), "held out" if p["held_out"] else "")
    console.print(table)
    console.print(
        f"median |error| on the {fit['held_out_points']} held-out points: "
        f"{fit['median_error_held_out_before'] * 100:.1f}% before, "
        f"{fit['median_error_held_out_after'] * 100:.1f}% after the fit "
        f"(on the {fit['fit_points']} fitted points: "
        f"{fit['median_error_fit_before'] * 100:.1f}% before, "
        f"{fit['median_error_fit_after'] * 100:.1f}% after)", highlight=False)
    ratios = ", ".join(f"{k} x{v:.3g}" for k, v in record["scale"].items())
    fixed = record["fixed"]
    added = "its parts in full, added" if record["overlap"] == "none" else "its exposed terms"
    console.print(f"fitted: {ratios} (against the {record['efficiency']} roofline of the "
                  f"measured ceilings, {added}); {fixed['per_step_s'] * 1e6:,.1f} us per step, "
                  f"{fixed['per_layer_s'] * 1e6:,.1f} us per layer, "
                  f"{fixed['per_sequence_layer_s'] * 1e6:,.2f} us per sequence and layer",
                  highlight=False)
    for a in fit["achieved"]:
        text = ("hidden under the fixed costs on this grid (ratio 0)" if a["achieved"] is None
                else f"{a['achieved']:.3g} {a['unit']}, {a['fraction_of_ceiling'] * 100:.0f}% "
                     f"of the measured {a['ceiling']:.3g}")
        console.print(f"  {a['what']}: {text}", highlight=False)
