"""Achievable fractions of peak for `efficiency: realistic`, read from `data/efficiency.yaml`.

Every number there is a measurement (row id of measured_dev.csv) or a stated default;
`ideal` uses 1.0 everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from inferplan.deployment import Deployment


@dataclass(frozen=True)
class Efficiency:
    """Fractions of peak a deployment achieves: matmul FLOP/s, HBM bandwidth, links."""

    compute: float = 1.0
    memory_bandwidth: float = 1.0
    interconnect: float = 1.0


@cache
def efficiency_table() -> dict[str, Any]:
    text = (resources.files("inferplan") / "data" / "efficiency.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _lookup(section: str, chip: str, dtype: str | None = None) -> float:
    table = efficiency_table()[section]
    entry = table.get(chip)
    if isinstance(entry, dict) and dtype is not None and dtype in entry:
        return float(entry[dtype])
    if isinstance(entry, (int, float)):
        return float(entry)
    return float(table["default"])


def efficiency_for(deployment: Deployment) -> Efficiency:
    """Measured fractions for this chip and compute dtype (ideal: all 1.0).

    H100 SXM bf16: compute 0.803 (MAMF-005), HBM 0.90 (FMLA-001), NVLink 0.88 (NVL-001).
    """
    if deployment.efficiency == "ideal":
        return Efficiency()
    chip = deployment.chip.name
    return Efficiency(
        compute=_lookup("compute", chip, deployment.dtypes.compute),
        memory_bandwidth=_lookup("memory_bandwidth", chip),
        interconnect=_lookup("interconnect", chip))
