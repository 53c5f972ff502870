"""The measured device as a `ChipSpec`: its matmul FLOP/s and memory bandwidth from the
microbenchmarks (`micro`), so the analytic model's roofline is priced against the
ceilings the device reaches. What is read of the machine (CPU model, cores, memory,
last-level cache) comes from the operating system; nothing here imports jax."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inferplan.hardware import ChipSpec, ScaleUpSpec
from inferplan.units import GIB, MIB

#: Smallest and largest array the bandwidth reduction reads.
MIN_BANDWIDTH_BYTES = 256 * MIB
MAX_BANDWIDTH_BYTES = 2 * GIB
#: The reduction reads this many times the last-level cache, so it streams from memory.
CACHE_MULTIPLE = 2


@dataclass(frozen=True)
class HostInfo:
    """What the operating system says of the machine."""

    cpu: str
    cores: int
    memory_bytes: float
    llc_bytes: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def _size_bytes(text: str) -> float:
    """'480M' / '4096K' / '2048' (sysfs cache sizes) → bytes: 480M → 503,316,480."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    text = text.strip()
    return float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)


def _llc_bytes() -> float:
    folder = Path("/sys/devices/system/cpu/cpu0/cache")
    sizes = []
    for index in sorted(folder.glob("index*")):
        try:
            sizes.append(_size_bytes((index / "size").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return max(sizes, default=0.0)


def host_info() -> HostInfo:
    """The CPU's name, the cores this process may use, total memory, last-level cache."""
    try:
        memory = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        memory = 0.0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    return HostInfo(_cpu_name(), cores, memory, _llc_bytes())


def bandwidth_array_bytes(info: HostInfo) -> int:
    """Bytes the bandwidth reduction reads: CACHE_MULTIPLE × the last-level cache, within
    [256 MiB, 2 GiB] and at most an eighth of memory. A 480 MiB L3: 960 MiB."""
    want = max(MIN_BANDWIDTH_BYTES, CACHE_MULTIPLE * info.llc_bytes)
    cap = min(MAX_BANDWIDTH_BYTES, info.memory_bytes / 8 if info.memory_bytes else want)
    return int(max(min(want, cap), 64 * MIB)) // 4 * 4


def chip_name(platform: str, device_kind: str) -> str:
    """A catalog-style name for the measured device: host-cpu, or the accelerator's kind
    in lower case with dashes ('NVIDIA H100 80GB HBM3' → nvidia-h100-80gb-hbm3)."""
    if platform == "cpu":
        return "host-cpu"
    slug = re.sub(r"[^a-z0-9.]+", "-", device_kind.lower()).strip("-.")
    return slug or platform


def device_chip(platform: str, device_kind: str, info: HostInfo, memory_bytes: float,
                flops_per_s: dict[str, float], bandwidth_bytes_per_s: float,
                how: dict[str, str], date: str) -> ChipSpec:
    """The measured device as a one-chip `ChipSpec` (kind cpu, gpu or tpu): peak FLOP/s
    per dtype and memory bandwidth as measured (sources say how and when); bf16 falls
    back to the best rate measured when it was not measured (a spec needs one)."""
    rates = dict(flops_per_s)
    rates.setdefault("bf16", max(rates.values()))
    cpu = platform == "cpu"
    return ChipSpec(
        name=chip_name(platform, device_kind),
        display_name=f"{info.cpu} ({info.cores} cores)" if cpu else device_kind,
        vendor="host" if cpu else device_kind.split()[0].lower(),
        kind="cpu" if cpu else "tpu" if platform == "tpu" else "gpu",
        memory_bytes=memory_bytes or 1.0,
        memory_bandwidth_bytes_per_s=bandwidth_bytes_per_s, peak_flops_per_s=rates,
        scale_up=ScaleUpSpec(topology="switch", max_chips=1),
        sources={"memory_bytes": "os.sysconf page size x pages" if cpu
                 else "jax device memory_stats bytes_limit",
                 "memory_bandwidth_bytes_per_s": f"measured {date}: {how['bandwidth']}",
                 "peak_flops_per_s": f"measured {date}: {how['flops']}"},
        notes="measured by inferplan calibrate; rates are achieved ceilings, not datasheet")
