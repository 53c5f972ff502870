"""Data types, unit constants, human-readable formatting, and the parser of the
package's own YAML files.

This module imports nothing of ours: every other module may use it.
"""

from __future__ import annotations

import difflib
import reprlib
from typing import Any, Literal, get_args

#: Storage or arithmetic formats a scenario may name.
Dtype = Literal["fp32", "bf16", "fp16", "fp8", "int8", "int4", "fp4"]

#: Bytes per element of each dtype (int4 and fp4 pack two elements per byte).
DTYPE_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    "fp4": 0.5,
}

DTYPES: tuple[str, ...] = get_args(Dtype)

KB = 1e3
MB = 1e6
GB = 1e9
TB = 1e12
KIB = 2**10
MIB = 2**20
GIB = 2**30

MS_PER_S = 1e3
US_PER_S = 1e6
S_PER_HOUR = 3600.0

#: Engines `inferplan export` writes commands for (here, not in `export.py`, so that the
#: command line states them in its help without importing the export planner).
EXPORT_ENGINES = ("vllm", "sglang", "trtllm")
#: γ values speculative decoding tries by default (1..8), as engines'
#: num_speculative_tokens go (here for the same reason: `inferplan speculative --help`).
DEFAULT_GAMMA_MAX = 8


#: Longest `repr` of a value an error message shows (longer ones keep their two ends).
MAX_VALUE_CHARS = 160


def short_repr(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """`repr(value)` in at most `limit` characters, whatever its size: nested lists and
    mappings show a few items per level and three levels (a YAML alias bomb of 10⁹ strings
    prints as `[[[[...], [...], ...], ...], ...]`), long strings keep their ends
    ('/tmp/a...z/config.json'), and newlines show as \\n so the line stays one line."""
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 3, 8, 8, 8, 8
    r.maxstring, r.maxother, r.maxlong = limit, limit, limit
    try:
        text = r.repr(value)
    except ValueError:                 # an int past Python's 4,300-digit str() limit
        text = f"<{type(value).__name__} too large to print>"
    if len(text) > limit:
        keep = (limit - 3) // 2
        text = f"{text[:keep]}...{text[-keep:]}"
    return text


def one_line(text: str) -> str:
    r"""`text` with every character that would end or hide a line (newline, carriage
    return, the separators \x1c-\x1e, \x85, \u2028, other control characters) written as
    its escape: the field of a key typed "a<newline>b" prints as `parallelism.a\nb`. A
    field name can hold a user's key, and a key can hold anything."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class InferplanError(ValueError):
    """A user-facing error: names the field, the value and what is allowed.

    The CLI prints `str(error)` on one line and exits with status 2. The value is shown
    shortened (`short_repr`), so a huge or deeply nested input cannot flood the line;
    control characters anywhere in the message (a key with a newline) show escaped.
    """

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(one_line(f"{field}: {short_repr(value)} is not valid; {allowed}"))


def close_matches(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """Names among `candidates` that look like `name` (for 'did you mean' hints)."""
    lowered = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    subs = [c for c in candidates if name.lower() in c.lower() and c not in hits]
    return [lowered[h] for h in hits] + subs[: max(0, n - len(hits))]


def unknown_name_error(field: str, name: str, candidates: list[str]) -> InferplanError:
    """An `InferplanError` for an unknown catalog name, suggesting close names."""
    near = close_matches(name, candidates)
    hint = f"did you mean {', '.join(near)}?" if near else f"known: {', '.join(sorted(candidates))}"
    return InferplanError(field, name, f"not in the catalog; {hint}")


def dtype_bytes(dtype: str, field: str = "dtype") -> float:
    """Bytes per element of `dtype`, e.g. dtype_bytes('int4') == 0.5."""
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        raise InferplanError(field, dtype, f"allowed: {', '.join(DTYPES)}") from None


def activation_bytes(compute_dtype: str, field: str = "dtypes.compute") -> float:
    """Bytes per element of the activations a layer hands on (its residual stream, GEMM
    outputs, the tensor-parallel all-reduces and pipeline sends): 16-bit for a GEMM dtype
    below 16 bits, else the compute dtype's own. An fp8, int8 or fp4 GEMM quantises its
    input and writes bf16 (cuBLASLt/CUTLASS scaled matmuls with a bf16 D; vLLM's
    `apply_fp8_linear` and TensorRT-LLM's fp8/nvfp4 linears return the layer's dtype),
    and the engines all-reduce that bf16 output (vLLM custom all-reduce, TensorRT-LLM
    AllReduce on bf16 before any fused re-quantisation); How To Scale Your Model's int8
    serving likewise sends [B, D] bf16 (seed_cases.md, "2 all-reduces of [B,D] bf16").
    fp8: 2.0; fp32: 4.0."""
    return max(dtype_bytes(compute_dtype, field), 2.0)


def format_bytes(n_bytes: float) -> str:
    """Decimal units with three significant digits: 163840 -> '164 kB'."""
    for unit, scale in (("TB", TB), ("GB", GB), ("MB", MB), ("kB", KB)):
        if abs(n_bytes) >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes:.0f} B"


def format_count(n: float) -> str:
    """Short count: 70553706496 -> '70.55B'."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def parse_bundled_yaml(text: str) -> Any:
    """A YAML document of the package's own data (catalogs, engine profiles, tables), parsed
    by libyaml's C loader where PyYAML was built with it (`yaml.CSafeLoader`, ~10x the pure
    Python `SafeLoader`; the same safe tags, the same values), else by `SafeLoader`. User
    files go through `cli.files.parse_yaml`, which bounds aliases and nesting first."""
    import yaml  # here, not at the top: a command's --help needs no YAML

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)   # a safe loader, C or Python
