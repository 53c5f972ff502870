"""Timing the grid on a device (jax): the ceilings (`micro`), then each grid point's
step of the scaled model (`forward`) jitted for its shapes, warmed up and timed
(`timing`). Imported only by the command that asked for a calibration."""

from __future__ import annotations

import datetime
import platform as py_platform
from collections.abc import Callable
from importlib import metadata

import jax
import jax.numpy as jnp
import numpy as np

from inferplan.calibrate.forward import Dims, Params, init_params, step
from inferplan.calibrate.grid import GridPoint, GridSpec, held_out
from inferplan.calibrate.host import bandwidth_array_bytes, host_info
from inferplan.calibrate.micro import bandwidth_ceiling, matmul_ceiling
from inferplan.calibrate.records import MeasuredPoint, Measurement
from inferplan.calibrate.scaling import Scaling, at_depth
from inferplan.calibrate.timing import time_calls
from inferplan.models import ModelSpec
from inferplan.units import InferplanError

#: inferplan dtype → jax dtype name the model runs in.
JAX_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
#: Value the KV caches are filled with (timing does not depend on it).
CACHE_FILL = 0.01


def software_versions() -> dict[str, str]:
    """Versions of what ran the calibration."""
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"
    return {"python": py_platform.python_version(), "jax": jax.__version__,
            "jaxlib": version("jaxlib"), "numpy": np.__version__,
            "inferplan": version("inferplan")}


def pick_device(platform: str) -> jax.Device:
    """The first jax device of `platform`, or an `InferplanError` naming the ones jax
    has."""
    try:
        return jax.devices(platform)[0]
    except RuntimeError:
        have = sorted({d.platform for d in jax.devices()})
        raise InferplanError("--device", platform,
                             f"jax sees no {platform} device here; it has: {', '.join(have)}"
                             ) from None


def device_memory_bytes(device: jax.Device) -> float:
    """An accelerator's memory as jax reports it (0 when it does not)."""
    try:
        stats = device.memory_stats() or {}
    except (RuntimeError, NotImplementedError):
        stats = {}
    return float(stats.get("bytes_limit", 0.0))


def point_call(params: Params, spec: ModelSpec, point: GridPoint, dtype: str
               ) -> Callable[[], object]:
    """A zero-argument call that runs `point`'s step once, jitted for its shapes, and
    waits for it."""
    d = Dims.of(at_depth(spec, point.layers))
    cut = {**params, "layers": params["layers"][:point.layers]}
    B = point.decode_batch
    decode = jnp.arange(B, dtype=jnp.int32) % d.V if B else None
    cache = None
    if B:
        shape = (d.L, B, point.context, d.K, d.H)
        cache = (jnp.full(shape, CACHE_FILL, jnp.dtype(dtype)),
                 jnp.full(shape, CACHE_FILL, jnp.dtype(dtype)))
    Bp, S = point.prompts
    prompt = (jnp.arange(Bp * S, dtype=jnp.int32).reshape(Bp, S) % d.V) if Bp else None
    fn = jax.jit(lambda p, t, c, s: step(p, d, t, c, s))

    def run() -> object:
        logits, new_k, new_v = fn(cut, decode, cache, prompt)
        return (logits.block_until_ready(), new_k.block_until_ready(),
                new_v.block_until_ready())
    return run


def measure(grid: GridSpec, spec: ModelSpec, scaling: Scaling, dtype: str, platform: str,
            progress: Callable[[str], None] | None = None) -> Measurement:
    """Ceilings and every grid point timed on the first `platform` device."""
    device = pick_device(platform)
    info = host_info()
    date = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    jdtype = JAX_DTYPES[dtype]
    with jax.default_device(device):
        flops = matmul_ceiling(jdtype, grid.matmul_sizes)
        size = (bandwidth_array_bytes(info) if grid.bandwidth_bytes is None
                else grid.bandwidth_bytes)
        memory = bandwidth_ceiling(size)
        params = init_params(Dims.of(spec), jdtype)
        grid_points = grid.points()
        calls = [point_call(params, spec, point, jdtype) for point in grid_points]
        timings = time_calls(calls, grid.repeats, progress=None if progress is None else (
            lambda i: progress(grid_points[i].label(spec.num_layers))))
        points = [MeasuredPoint(point, timing, held_out(i))
                  for i, (point, timing) in enumerate(zip(grid_points, timings, strict=True))]
    return Measurement(
        device=platform, device_kind=str(device.device_kind), host=info,
        memory_bytes=info.memory_bytes if platform == "cpu" else device_memory_bytes(device),
        dtype=dtype,
        flops_per_s={dtype: flops.rate}, bandwidth_bytes_per_s=memory.rate,
        how={"flops": flops.how, "bandwidth": memory.how}, model=spec, scaling=scaling,
        points=tuple(points), software=software_versions(), date=date, grid=grid.name)
