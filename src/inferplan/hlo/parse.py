"""The collectives of a compiled XLA module, read from its HLO text
(`jax.jit(f).lower(...).compile().as_text()`): which collective, its dtype, its
elements per device in the V convention of `inferplan.partitioning.Transfer`, and the
device groups it runs over.

V per device, as `Transfer.bytes_per_device` counts it:

- all-gather: the gathered result; all-reduce: the array (result = operand);
- reduce-scatter: the unreduced operand = result · group size;
- all-to-all: what each device holds (the result, summed over a tuple's parts);
- collective-permute: the array sent (the result).

Async pairs (`all-gather-start` / `all-gather-done`) count once, at `-done`, with the
start's groups. XLA:CPU has no reduce-scatter: its SPMD partitioner writes one as an
all-reduce whose result is cut to the device's 1/p slice by a `dynamic-slice`, and the
GPU and TPU pipelines' reduce-scatter creator (absent from XLA:CPU) fuses that pair.
`HloCollective.sliced_to` records the slice, so a caller can count that all-reduce as
the reduce-scatter it stands for.

Imports nothing of ours (numpy only).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

#: The collectives read from a module (HLO op names).
COLLECTIVES: tuple[str, ...] = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all",
                                "collective-permute")
#: Bytes per element of the HLO element types a collective may carry.
HLO_DTYPE_BYTES: dict[str, float] = {
    "f64": 8, "f32": 4, "bf16": 2, "f16": 2, "s32": 4, "u32": 4, "s8": 1, "u8": 1,
    "f8e4m3fn": 1, "f8e5m2": 1, "s64": 8, "u64": 8, "pred": 1,
}

_ARRAY = re.compile(r"([a-z]\w*)\[([0-9,]*)\]")
_NAME = re.compile(r"%([\w.\-]+)")
#: A device-id list inside `device_ids=(...)`: an iota `[4,2]T(1,0)` or `0,2,4,...`.
_IDS = r"(?:\[[0-9,]+\](?:T\([0-9,]+\))?|[0-9,\s]*)"


@dataclass(frozen=True)
class Instruction:
    """One HLO instruction: its name, result shape text, op, operand names and the
    attribute text after the operands."""

    name: str
    shape: str
    op: str
    operands: tuple[str, ...]
    attributes: str


@dataclass(frozen=True)
class HloCollective:
    """One collective of a compiled module, per device."""

    op: str                                   # 'all-reduce', 'all-gather', ...
    dtype: str                                # HLO element type of its (first) array
    elements: int                             # V in elements (see the module docstring)
    groups: tuple[tuple[int, ...], ...]       # device ids of each group
    name: str = ""
    #: elements of the `dynamic-slice`s found on this all-reduce's result (the XLA:CPU
    #: form of a reduce-scatter cuts it to 1/p)
    slices: tuple[int, ...] = ()

    @property
    def group_size(self) -> int:
        return len(self.groups[0]) if self.groups else 1

    @property
    def bytes_per_device(self) -> float:
        return self.elements * HLO_DTYPE_BYTES[self.dtype]

    @property
    def is_cpu_reduce_scatter(self) -> bool:
        """An all-reduce whose result is cut to one device's 1/p share: a reduce-scatter
        written by XLA:CPU as all-reduce + dynamic-slice."""
        return (self.op == "all-reduce" and self.group_size > 1
                and any(s * self.group_size == self.elements for s in self.slices))


def array_elements(shape: str) -> list[tuple[str, int]]:
    """(element type, element count) of each array in an HLO shape text:
    'f32[16,64]{1,0}' → [('f32', 1024)]; '(bf16[2,3]{1,0}, f32[4]{0})' → [('bf16', 6),
    ('f32', 4)]; a scalar 'f32[]' has 1 element."""
    out = []
    for dtype, dims in _ARRAY.findall(shape):
        if dtype in ("token",):
            continue
        out.append((dtype, math.prod(int(d) for d in dims.split(",") if d) if dims else 1))
    return out


def parse_instructions(text: str) -> dict[str, dict[str, Instruction]]:
    """Every instruction of every computation in an HLO module text, by computation
    name and instruction name."""
    computations: dict[str, dict[str, Instruction]] = {}
    current: dict[str, Instruction] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.endswith("{") and "=" not in line.split("(")[0]:
            head = line.removeprefix("ENTRY ").split()[0].lstrip("%")
            current = computations.setdefault(head, {})
            continue
        if line == "}":
            current = None
            continue
        if current is None or "=" not in line:
            continue
        inst = _instruction(line)
        if inst is not None:
            current[inst.name] = inst
    return computations


def _instruction(line: str) -> Instruction | None:
    line = line.removeprefix("ROOT ").strip()
    name, sep, rest = line.partition(" = ")
    if not sep:
        return None
    rest = rest.strip()
    if rest.startswith("("):
        end = _matching(rest, 0)
        shape, rest = rest[:end + 1], rest[end + 1:].strip()
    else:
        shape, _, rest = rest.partition(" ")
    op, paren, rest = rest.partition("(")
    if not paren:
        return None
    end = _matching("(" + rest, 0)
    operands = tuple(_NAME.findall(rest[:end - 1]))
    return Instruction(name.lstrip("%"), shape, op.strip(), operands, rest[end:])


def _matching(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] in "({[":
            depth += 1
        elif text[i] in ")}]":
            depth -= 1
            if depth == 0:
                return i
    return len(text) - 1


def parse_replica_groups(attributes: str, devices: int) -> tuple[tuple[int, ...], ...]:
    """The device groups of a collective's `replica_groups` attribute, in any of XLA's
    three spellings:

    - explicit: `replica_groups={{0,1},{2,3}}`;
    - iota: `replica_groups=[2,4]<=[4,2]T(1,0)`: arange(8).reshape(4,2).T.reshape(2,4),
      one group per row → {0,2,4,6}, {1,3,5,7};
    - mesh: `replica_groups=mesh['a'=2,'b'=4], device_ids=([4,2]T(1,0)) {'b'}`: devices
      laid on the named axes (row-major over `device_ids`, default 0..n−1), one group per
      point of the axes not listed.

    `devices` (the module's partition count) stands for an empty `{}` (one group of all).
    """
    m = re.search(r"replica_groups=(\{\{.*?\}\}|\{\}|\[[0-9,]+\]<=\[[0-9,]+\](?:T\([0-9,]+\))?"
                  r"|mesh\[[^\]]*\](?:, device_ids=\(" + _IDS + r"\))? \{[^}]*\})",
                  attributes)
    if m is None or m.group(1) == "{}":
        return (tuple(range(devices)),)
    spec = m.group(1)
    if spec.startswith("{{"):
        return tuple(tuple(int(v) for v in g.split(",") if v.strip())
                     for g in re.findall(r"\{([0-9,\s]*)\}", spec[1:-1]))
    if spec.startswith("["):
        shape_text, _, source = spec.partition("<=")
        rows, cols = (int(v) for v in shape_text.strip("[]").split(","))
        ids = _iota(source)
        return tuple(tuple(int(v) for v in row) for row in ids.reshape(rows, cols))
    axes_text = re.search(r"mesh\[([^\]]*)\]", spec)
    assert axes_text is not None
    axes = [(a.split("=")[0].strip(" '"), int(a.split("=")[1])) for a in
            axes_text.group(1).split(",")]
    ids_text = re.search(r"device_ids=\((" + _IDS + r")\)", spec)
    size = math.prod(s for _, s in axes)
    if ids_text is None:
        ids = np.arange(size)
    elif ids_text.group(1).startswith("["):
        ids = _iota(ids_text.group(1))
    else:
        ids = np.array([int(v) for v in ids_text.group(1).split(",")])
    listed = re.findall(r"'([^']+)'", spec[spec.rindex("{"):])
    grid = ids.reshape([s for _, s in axes])
    names = [a for a, _ in axes]
    inner = [names.index(a) for a in listed]
    outer = [i for i in range(len(names)) if i not in inner]
    moved = np.transpose(grid, outer + inner)
    return tuple(tuple(int(v) for v in row)
                 for row in moved.reshape(-1, math.prod(grid.shape[i] for i in inner)))


def _iota(source: str) -> np.ndarray:
    """Device ids of an iota list `[d0,d1,...]T(p...)`: arange reshaped and transposed."""
    m = re.fullmatch(r"\[([0-9,]+)\](?:T\(([0-9,]+)\))?", source.strip())
    if m is None:
        raise ValueError(f"unrecognised iota device list {source!r}")
    dims = [int(v) for v in m.group(1).split(",")]
    ids = np.arange(math.prod(dims)).reshape(dims)
    if m.group(2):
        ids = np.transpose(ids, [int(v) for v in m.group(2).split(",")])
    return ids.reshape(-1)


def parse_collectives(text: str, devices: int) -> list[HloCollective]:
    """The collectives of an HLO module text over `devices` partitions, in program order
    within each computation, with V per device (see the module docstring)."""
    computations = parse_instructions(text)
    out: list[HloCollective] = []
    for body in computations.values():
        users: dict[str, list[Instruction]] = {}
        for inst in body.values():
            for operand in inst.operands:
                users.setdefault(operand, []).append(inst)
        for inst in body.values():
            op = inst.op.removesuffix("-done")
            if op not in COLLECTIVES or inst.op.endswith("-start"):
                continue
            attributes = inst.attributes
            if inst.op.endswith("-done") and inst.operands and inst.operands[0] in body:
                attributes = body[inst.operands[0]].attributes
            groups = parse_replica_groups(attributes, devices)
            arrays = array_elements(inst.shape)
            if not arrays:
                continue
            elements = sum(e for _, e in arrays)
            if op == "reduce-scatter":
                elements *= len(groups[0])
            sliced = (_slices_after(inst.name, users, computations)
                      if op == "all-reduce" else ())
            out.append(HloCollective(op, arrays[0][0], elements, groups, inst.name, sliced))
    return out


def _slices_after(name: str, users: dict[str, list[Instruction]],
                  computations: dict[str, dict[str, Instruction]],
                  hops: int = 3) -> tuple[int, ...]:
    """Elements of each `dynamic-slice` within `hops` users of `name` (through converts,
    copies and fusions; a fusion's slices are read from the fused computation)."""
    found: list[int] = []
    frontier = [name]
    for _ in range(hops):
        nxt: list[str] = []
        for value in frontier:
            for user in users.get(value, []):
                if user.op == "dynamic-slice":
                    found.append(sum(e for _, e in array_elements(user.shape)))
                elif user.op == "fusion":
                    called = re.search(r"calls=%([\w.\-]+)", user.attributes)
                    fused = computations.get(called.group(1), {}) if called else {}
                    found.extend(sum(e for _, e in array_elements(i.shape))
                                 for i in fused.values() if i.op == "dynamic-slice")
                nxt.append(user.name)
        frontier = nxt
    return tuple(found)
