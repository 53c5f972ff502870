"""Terminal rendering of `inferplan memory` and the catalog listings."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from inferplan.memory import MemoryResult
from inferplan.units import GIB, format_bytes, format_count


def render_memory(result: MemoryResult, console: Console) -> None:
    """The per-chip breakdown, the verdict and the largest batch."""
    d = result.deployment
    lay = d.layout
    title = (f"{d.model.name} on {d.chips}x {d.chip.display_name} ({d.topology.describe()}), "
             f"{lay.degrees()}"
             f", weights {d.dtypes.weights_label}, KV {d.dtypes.kv}")
    table = Table(title=title, title_justify="left")
    table.add_column("per chip")
    table.add_column("bytes", justify="right")
    table.add_column("GiB", justify="right")
    table.add_column("share of usable", justify="right")
    mem = result.memory_dict()
    usable = mem["usable_bytes_per_chip"]
    rows = [("weights", "weights_bytes_per_chip"),
            (f"KV cache ({result.batch} seq x {result.workload.context_len} tok)",
             "kv_bytes_per_chip"),
            ("working memory", "activation_bytes_per_chip"),
            ("total", "total_bytes_per_chip"),
            (f"usable ({d.usable_fraction:.0%} of capacity)", "usable_bytes_per_chip"),
            ("capacity", "capacity_bytes_per_chip")]
    for label, key in rows:
        value = mem[key]
        table.add_row(label, f"{value:,.0f}", f"{value / GIB:.2f}", f"{value / usable:.1%}",
                      end_section=key == "total_bytes_per_chip")
    console.print(table)
    verdict = "[green]fits[/]" if result.fits else "[red]does not fit[/]"
    spare = usable - mem["total_bytes_per_chip"]
    console.print(f"{verdict}: {format_bytes(abs(spare))} "
                  f"{'free' if spare >= 0 else 'over'} per chip; attention sharded by "
                  f"{lay.attention_mode(d.model)}; largest batch per replica at "
                  f"{result.workload.context_len} tokens: [bold]{result.max_batch}[/]")
    small = result.smallest
    if small is None:
        console.print(f"no deployment of {d.chip.name} holds batch {result.batch} "
                      "with pure model parallelism")
    else:
        s = small.deployment
        console.print(f"smallest {d.chip.name} deployment for batch {result.batch}: "
                      f"[bold]{s.chips} chips[/] ({s.topology.describe()}, tp={s.layout.tp}"
                      f" pp={s.layout.pp}), which holds up to {small.max_batch} sequences")


def render_catalog(rows: Iterable[dict[str, object]], columns: list[tuple[str, str]],
                   title: str, console: Console) -> None:
    """A catalog listing: `columns` are (header, key) pairs."""
    table = Table(title=title, title_justify="left")
    for header, _ in columns:
        table.add_column(header)
    for row in rows:
        cells = []
        for _, key in columns:
            value = row.get(key)
            if key.endswith("parameters") and isinstance(value, int):
                cells.append(format_count(value))
            elif key.endswith("bytes") and isinstance(value, float):
                cells.append(format_bytes(value))
            elif isinstance(value, float):
                cells.append(f"{value:.3g}")
            else:
                cells.append("" if value is None else str(value))
        table.add_row(*cells)
    console.print(table)
