"""The work of `inferplan verify-sharding` (its options: `commands_verify.py`)."""

from __future__ import annotations

import importlib.util

from rich.console import Console

from inferplan.hlo import DEFAULT_SHAPES, verify_sharding
from inferplan.report.json_out import to_json
from inferplan.report.sharding_table import render_sharding
from inferplan.units import InferplanError

#: Most host devices a check compiles for (each is a thread of one CPU process).
MAX_DEVICES = 64


def run_verify_sharding(devices: int, json_out: bool) -> None:
    if not 2 <= devices <= MAX_DEVICES:
        raise InferplanError("--devices", devices, f"an integer from 2 to {MAX_DEVICES}")
    if importlib.util.find_spec("jax") is None:
        raise InferplanError("verify-sharding", "jax", "install the extra: pip install "
                             "'inferplan[jax]'")
    rows, skipped = verify_sharding(DEFAULT_SHAPES, devices)
    records = [r.as_dict() for r in rows]
    if json_out:
        print(to_json({"devices": devices, "rows": records, "skipped": skipped}))
        return
    render_sharding(records, skipped, Console())
