"""`inferplan verify-sharding`'s table: the model's collectives per layer beside those
in XLA's compiled HLO. Renders rows; computes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table


def render_sharding(rows: Sequence[Mapping[str, object]], skipped: Sequence[str],
                    console: Console) -> None:
    """One table of (layout, collective, group) rows, then the skipped cases."""
    table = Table(title="collectives per layer: model vs XLA HLO (bytes per device)")
    for name, justify in (("shape", "left"), ("layout", "left"), ("collective", "left"),
                          ("axes", "left"), ("p", "right"), ("model n", "right"),
                          ("model bytes", "right"), ("HLO n", "right"),
                          ("HLO bytes", "right"), ("HLO ops", "left"), ("agree", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(str(r["shape"]), str(r["layout"]), str(r["collective"]),
                      str(r["axes"]), str(r["group_size"]), str(r["model_count"]),
                      f"{float(str(r['model_bytes_per_device'])):,.0f}", str(r["hlo_count"]),
                      f"{float(str(r['hlo_bytes_per_device'])):,.0f}", str(r["hlo_ops"]),
                      str(r["agree"]))
    console.print(table)
    for line in skipped:
        console.print(f"skipped: {line}")
