"""`inferplan models` and `inferplan hardware`: the bundled catalogs."""

from __future__ import annotations

from rich.console import Console

from inferplan.hardware import hardware_catalog
from inferplan.models import catalog_model, model_catalog
from inferplan.report.json_out import to_json
from inferplan.report.memory_table import render_catalog


def model_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, entry in model_catalog().items():
        spec = catalog_model(name)
        rows.append({
            "name": name, "model_type": spec.model_type, "hf_repo": entry.hf_repo,
            "parameters": spec.parameters, "active_parameters": spec.active_parameters,
            "published_parameters": entry.published_parameters,
            "layers": spec.num_layers, "hidden_size": spec.hidden_size,
            "heads": spec.num_heads, "kv_heads": spec.num_kv_heads,
            "experts": spec.moe.num_experts if spec.moe else None,
            "attention": "MLA" if spec.mla else (
                "MQA" if spec.num_kv_heads == 1 else
                "GQA" if spec.num_kv_heads < spec.num_heads else "MHA"),
            "sliding_layers": sum(w is not None for w in spec.layer_windows),
            "kv_bytes_per_token_bf16": spec.kv_bytes_per_token("bf16"),
            "source": entry.source,
        })
    return rows


def run_models(json_out: bool) -> None:
    rows = model_rows()
    if json_out:
        print(to_json(rows))
        return
    render_catalog(rows, [("name", "name"), ("type", "model_type"), ("params", "parameters"),
                          ("active", "active_parameters"), ("L", "layers"), ("D", "hidden_size"),
                          ("N", "heads"), ("K", "kv_heads"), ("attn", "attention"),
                          ("experts", "experts")],
                   f"{len(rows)} models", Console())


def run_hardware(json_out: bool) -> None:
    chips = hardware_catalog().values()
    if json_out:
        print(to_json([c.model_dump() for c in chips]))
        return
    rows = [{
        "name": c.name, "kind": c.kind, "memory_bytes": c.memory_bytes,
        "bw": f"{c.memory_bandwidth_bytes_per_s / 1e12:.2f} TB/s",
        "bf16": f"{c.peak_flops_per_s['bf16'] / 1e12:.0f} TFLOP/s",
        "domain": f"{c.scale_up.topology} <= {c.scale_up.max_chips}",
        "price": (f"${c.price_usd_per_chip_hour:.2f}/h" if c.price_usd_per_chip_hour else ""),
    } for c in chips]
    render_catalog(rows, [("name", "name"), ("kind", "kind"), ("memory", "memory_bytes"),
                          ("bandwidth", "bw"), ("bf16 dense", "bf16"),
                          ("scale-up", "domain"), ("price", "price")],
                   f"{len(rows)} accelerators", Console())
