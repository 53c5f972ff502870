"""Rows of deployments: deployments that differ only in plain numbers (their layouts'
degrees, their slices) laid along the rows of one array computation, the structure of
arrays a search prices many deployments with.

`LayoutRows` holds the distinct layouts and the member each row runs; its degrees are
per-row arrays and `each` spreads any per-layout quantity over the rows (computed once
per member). `DeploymentRows` does the same for deployments that share model, chip,
dtypes, engine and efficiency mode. `per_layout` is how an array formula reads a
per-layout sum for one layout or for rows alike. `cost`, `efficiency`, `memory` and
`communication` accept rows wherever they accept one deployment. Members may differ in
their dtypes (`per_dtypes`: a formula that reads them, once per distinct dtype, picked
per row; `element_bytes`: a dtype's bytes per element per row).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Dtypes, Efficiency
from inferplan.engines import EngineProfile
from inferplan.hardware import ChipSpec
from inferplan.models import ModelSpec
from inferplan.parallel import AttentionSharding, Layout
from inferplan.units import dtype_bytes

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]


class _Members:
    """A tuple of layouts as a cache key, its hash computed once."""

    __slots__ = ("_hash", "layouts")

    def __init__(self, layouts: tuple[Layout, ...]) -> None:
        self.layouts, self._hash = layouts, hash(layouts)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Members) and (self.layouts is other.layouts
                                                or self.layouts == other.layouts)


def layout_members_key(members: tuple[Layout, ...]) -> _Members:
    """The cache key of rows of these layouts (`LayoutRows.each`), interned; an error
    where they differ in more than numbers (see `LayoutRows`)."""
    first = members[0]
    if any((m.layout, m.attention, m.attention_dp)
           != (first.layout, first.attention, first.attention_dp) for m in members):
        raise ValueError("rows of layouts share the partitioning and attention choice")
    return _interned(_Members(members))


@lru_cache(maxsize=1024)
def _interned(members: _Members) -> _Members:
    """The first `_Members` equal to `members`: rows of the same layouts share one key,
    so `_member_values` compares keys by identity, not layout by layout."""
    return members


@lru_cache(maxsize=4096)
def _member_values(fn: Callable[..., float], args: tuple[Hashable, ...],
                   kwargs: tuple[tuple[str, Hashable], ...], members: _Members) -> FloatArray:
    """fn(*args, layout=m, **kwargs) for each member m, read-only (shared by the cache)."""
    out = np.asarray([fn(*args, layout=m, **dict(kwargs)) for m in members.layouts],
                     dtype=np.float64)
    out.setflags(write=False)
    return out


def _head_shards(model: ModelSpec, layout: Layout) -> int:
    return layout.head_shards(model)


def _kv_batch_shards(model: ModelSpec, layout: Layout) -> int:
    return layout.kv_batch_shards(model)


def _attention_dp_ranks(model: ModelSpec, layout: Layout) -> int:
    return layout.attention_dp_ranks(model)


@dataclass(frozen=True, eq=False)
class LayoutRows:
    """Several layouts laid along the rows of one array computation: `members`, the
    distinct layouts, and `index`, the member each row runs (an integer array of the
    rows' shape: (R, 1) broadcasts against (R, columns) of cells). The degrees are float
    arrays of that shape and `each` spreads any per-layout quantity over the rows, so
    `cost` and `memory` price many deployments in one numpy pass
    (`deployment.DeploymentRows`). Members share the partitioning (`layout`), the
    attention choice (`attention`) and the DP-attention ranks (`attention_dp`); only
    numbers differ.

    Members tp 1 and tp 8, rows [[0], [1], [1]]: tp = [[1.], [8.], [8.]].
    """

    members: tuple[Layout, ...]
    index: IndexArray
    #: the members as a cache key (`_Members`), where the caller holds it already
    #: (`DeploymentRows.layout`: one per family, not one per slice of its rows)
    members_key: _Members | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.members_key is not None:
            return                      # checked when the key was made
        first = self.members[0]
        if any((m.layout, m.attention, m.attention_dp)
               != (first.layout, first.attention, first.attention_dp) for m in self.members):
            raise ValueError("rows of layouts share the partitioning and attention choice")

    @cached_property
    def _key(self) -> _Members:
        return self.members_key or layout_members_key(self.members)

    def each(self, fn: Callable[..., float], *args: Hashable, **kwargs: Hashable
             ) -> FloatArray:
        """fn(*args, layout=member, **kwargs) of every row's member: evaluated once per
        member (cached per function, arguments and members) and gathered by `index`."""
        return np.asarray(_member_values(fn, args, tuple(sorted(kwargs.items())), self._key)
                          [self.index], dtype=np.float64)

    def _degree(self, name: str) -> FloatArray:
        values = np.asarray([getattr(m, name) for m in self.members], dtype=np.float64)
        return np.asarray(values[self.index], dtype=np.float64)

    @cached_property
    def tp(self) -> FloatArray:
        return self._degree("tp")

    @cached_property
    def pp(self) -> FloatArray:
        return self._degree("pp")

    @cached_property
    def dp(self) -> FloatArray:
        return self._degree("dp")

    @cached_property
    def ep(self) -> FloatArray:
        return self._degree("ep")

    @property
    def layout(self) -> str:
        return self.members[0].layout

    @property
    def attention(self) -> AttentionSharding:
        return self.members[0].attention

    @property
    def attention_dp(self) -> int:
        return self.members[0].attention_dp

    def head_shards(self, model: ModelSpec) -> FloatArray:
        """`Layout.head_shards` of each row."""
        return self.each(_head_shards, model)

    def kv_batch_shards(self, model: ModelSpec) -> FloatArray:
        """`Layout.kv_batch_shards` of each row."""
        return self.each(_kv_batch_shards, model)

    def attention_dp_ranks(self, model: ModelSpec) -> FloatArray:
        """`Layout.attention_dp_ranks` of each row."""
        return self.each(_attention_dp_ranks, model)


def per_layout(fn: Callable[..., Any], *args: Hashable, layout: Layout | LayoutRows,
               **kwargs: Hashable) -> Any:
    """fn(*args, layout=layout, **kwargs): a per-layout quantity for one layout, or for
    rows of layouts (`LayoutRows.each`) one value per row. How an array formula reads a
    cached per-layout sum (parameters per device, state shards) for either.
    Megatron's `matmul_params_per_token` for LLaMA 3-70B: 8.56e9 at tp 8; rows of tp 4
    and tp 8: [[1.71e10], [8.56e9]]."""
    if isinstance(layout, LayoutRows):
        return layout.each(fn, *args, **kwargs)
    return fn(*args, layout=layout, **kwargs)



_T = TypeVar("_T")

#: A field of `DeploymentRows.dtypes` where the members differ in it: no dtype (a formula
#: that reads that field of such rows fails loudly; `per_dtypes` reads each row's).
PER_ROW = "per-row"

#: The `Dtypes` fields that name a dtype, and those a derived dtype reads
#: (`Dtypes.expert_weights`: the experts' dtype, else the weights').
DTYPE_FIELDS = ("weights", "kv", "compute", "experts", "attention", "attention_output")
_READS: dict[str, tuple[str, ...]] = {
    "expert_weights": ("weights", "experts"),
    "attention_weights": ("weights", "attention"),
    "attention_output_weights": ("weights", "attention", "attention_output")}


@dataclass(frozen=True, eq=False)
class DeploymentRows:
    """Deployments that differ only in plain numbers, laid along the rows of one array
    computation: `members`, the distinct deployments, and `index`, the member each row
    runs (an integer array of the rows' shape, e.g. (R, 1) against (R, columns) of
    cells). Members share the model, chip, efficiency mode, engine, step-time model,
    memory fraction and price, and their layouts' partitioning and attention choice;
    their degrees (`layout`: `parallel.LayoutRows`), slices and dtypes (`per_dtypes`)
    differ. `cost`, `efficiency` and `memory` read it where they
    read a `Deployment`, one value per row, so a search prices a whole family of
    deployments in one numpy pass.

    LLaMA 3.1-8B under vLLM on H100s at tp 1 and tp 2 (2 and 4 chips), rows
    [[0], [0], [1]]: layout.tp = [[1.], [1.], [2.]].
    """

    members: tuple[Deployment, ...]
    index: IndexArray
    #: per-member values already computed (`each`, `once`), shared by `take`'s rows
    memo: dict[object, Any] = field(default_factory=dict, repr=False)
    #: values of these rows (`per_rows`), not shared
    cache: dict[object, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.memo.get("checked"):
            return
        first = self.members[0]
        for m in self.members[1:]:
            same = ((m.model is first.model or m.model == first.model)
                    and (m.chip is first.chip or m.chip == first.chip)
                    and (m.engine is first.engine or m.engine == first.engine)
                    and m.efficiency == first.efficiency
                    and m.step_time is first.step_time
                    and m.memory_utilization == first.memory_utilization
                    and m.price_usd_per_chip_hour == first.price_usd_per_chip_hour
                    and m.speculative is None)
            if not same:
                raise ValueError("rows of deployments differ only in their layouts' "
                                 "degrees, their slices and their dtypes")
        if first.speculative is not None:
            raise ValueError("rows of deployments decode plainly (no draft)")
        self.memo["checked"] = True

    def take(self, index: npt.ArrayLike) -> DeploymentRows:
        """The same members over other rows (their per-member values kept)."""
        return DeploymentRows(self.members, np.asarray(index, dtype=np.intp), self.memo)

    def each(self, fn: Callable[[Deployment], _T]) -> tuple[_T, ...]:
        """fn of every member, in member order, computed once per function."""
        return self.once(fn, lambda: tuple(fn(m) for m in self.members))

    def once(self, key: object, build: Callable[[], _T]) -> _T:
        """build() the first time `key` is asked for, then the same value: for values of
        the members alone (never of `index`), shared with `take`'s rows."""
        if key not in self.memo:
            self.memo[key] = build()
        return self.memo[key]   # type: ignore[no-any-return]

    def per_rows(self, key: object, build: Callable[[], _T]) -> _T:
        """build() the first time `key` is asked for on these rows (values that read
        `index`), then the same value."""
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]   # type: ignore[no-any-return]

    def member_values(self, per_row: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Each member's value of an array that is constant over the member's rows (read
        at its first row, found once per rows); NaN for a member without rows."""
        values = np.broadcast_to(np.asarray(per_row, dtype=np.float64), self.index.shape)
        members, first = self.per_rows("first_rows", lambda: np.unique(
            self.index.ravel(), return_index=True))
        out = np.full(len(self.members), np.nan)
        out[members] = values.ravel()[first]
        return out

    @cached_property
    def layout(self) -> LayoutRows:
        layouts = self.once("layouts", lambda: tuple(m.layout for m in self.members))
        return LayoutRows(layouts, self.index, self.once(
            "layouts_key", lambda: layout_members_key(layouts)))

    @property
    def model(self) -> ModelSpec:
        return self.members[0].model

    @property
    def chip(self) -> ChipSpec:
        return self.members[0].chip

    @property
    def token_budget(self) -> int:
        """`Deployment.token_budget`: members share chip and engine."""
        return self.members[0].token_budget

    def _member_dtypes(self) -> tuple[tuple[Dtypes, ...], npt.NDArray[np.intp]]:
        """The members' distinct `Dtypes` objects (`expand` shares one per combination)
        and each member's place among them."""
        def build() -> tuple[tuple[Dtypes, ...], npt.NDArray[np.intp]]:
            place: dict[int, int] = {}
            distinct: list[Dtypes] = []
            code = []
            for m in self.members:
                i = place.setdefault(id(m.dtypes), len(place))
                if i == len(distinct):
                    distinct.append(m.dtypes)
                code.append(i)
            return tuple(distinct), np.asarray(code, dtype=np.intp)
        return self.once("member_dtypes", build)

    @property
    def dtypes(self) -> Dtypes:
        """The members' dtypes, each field where they differ in it `PER_ROW`
        (`per_dtypes` reads each row's): bf16 and fp8 caches, both bf16 weights:
        Dtypes(weights='bf16', kv='per-row', ...)."""
        def build() -> Dtypes:
            distinct = self._member_dtypes()[0]
            first = distinct[0]
            differ = {name: PER_ROW for name in DTYPE_FIELDS
                      if any(getattr(d, name) != getattr(first, name) for d in distinct)}
            return replace(first, **differ) if differ else first
        return self.once("dtypes", build)

    def _dtype_codes(self, names: tuple[str, ...]
                     ) -> tuple[tuple[Dtypes, ...], npt.NDArray[np.intp]]:
        """The members' distinct values of the dtype fields `names` (first seen first),
        each as the rows' `dtypes` with those fields set (every other field that differs
        left `PER_ROW`), and each member's place among them."""
        def build() -> tuple[tuple[Dtypes, ...], npt.NDArray[np.intp]]:
            distinct, member = self._member_dtypes()
            values = [tuple(getattr(d, n) for n in names) for d in distinct]
            kinds = list(dict.fromkeys(values))
            code = np.asarray([kinds.index(v) for v in values], dtype=np.intp)[member]
            shared = self.dtypes
            return (tuple(replace(shared, **dict(zip(names, k, strict=True))) for k in kinds),
                    code)
        return self.once(("dtype_codes", names), build)

    def per_dtypes(self, fn: Callable[[Dtypes], Any], *names: str) -> Any:
        """fn(dtypes) at each row's member's dtypes, where fn reads the dtype fields
        `names` (`DTYPE_FIELDS`): fn once per distinct combination of them among the
        members (given the rows' `dtypes` with those fields set: a field fn does not name
        that differs stays `PER_ROW` and fails where read), its values picked per row
        (`np.where` over `index`); fn's value as it is where the members share them.
        Bytes per KV element over rows of bf16 and fp8 caches [[0], [1]]: [[2.], [1.]]."""
        kinds, code = self._dtype_codes(names)
        out = fn(kinds[0])
        if len(kinds) == 1:
            return out
        row = self.per_rows(("dtype_row", names), lambda: code[self.index])
        for i in range(1, len(kinds)):
            out = np.where(row == i, fn(kinds[i]), out)
        return out

    @property
    def efficiency(self) -> Efficiency:
        return self.members[0].efficiency

    @property
    def engine(self) -> EngineProfile:
        return self.members[0].engine

    @property
    def step_time(self) -> object | None:
        return self.members[0].step_time

    @property
    def usable_fraction(self) -> float:
        return self.members[0].usable_fraction


def per_dtypes(deployment: Deployment | DeploymentRows, fn: Callable[[Dtypes], Any],
               *names: str) -> Any:
    """fn(dtypes) of one deployment, or of each row of rows, where fn reads the dtype
    fields `names` (`DeploymentRows.per_dtypes`)."""
    if isinstance(deployment, DeploymentRows):
        return deployment.per_dtypes(fn, *names)
    return fn(deployment.dtypes)


def element_bytes(deployment: Deployment | DeploymentRows, name: str) -> float | FloatArray:
    """Bytes of one element of the deployment's dtype `name` (a `DTYPE_FIELDS` field but
    `experts` and the attention's, or a derived one: `expert_weights`, `attention_weights`,
    `attention_output_weights`), per row for rows (KV caches of bf16 and fp8 members
    [[0], [1]]: [[2.], [1.]]). LLaMA 3-70B with an fp8 cache, "kv": 1.0."""
    label = "dtypes." + {"expert_weights": "experts", "attention_weights": "attention",
                         "attention_output_weights": "attention_output"}.get(name, name)
    if isinstance(deployment, DeploymentRows):
        rows = deployment
        return np.asarray(rows.per_rows(("element_bytes", name), lambda: rows.per_dtypes(
            lambda dt: dtype_bytes(getattr(dt, name), label), *_READS.get(name, (name,)))),
            dtype=np.float64)
    return dtype_bytes(getattr(deployment.dtypes, name), label)
