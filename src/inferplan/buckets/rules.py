"""furiosa-llm's bucket rules per version, loaded from `data/furiosa_llm_rules.yaml`.

The data file holds every version-dependent fact (with the wheel and file it was read
from); this module only parses it into frozen records and picks the rule for a
version string.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from inferplan.units import InferplanError, parse_bundled_yaml

RULES_FILE = "furiosa_llm_rules.yaml"

ValidationRule = Literal[
    "no_duplicates", "has_prefill", "append_attn_above_q", "has_decode",
    "within_max_model_len", "max_model_len_is_max_executable_len",
    "prefill_max_attn_equals_decode_max_attn",
]
DecodeGrouping = Literal["batch_max", "per_sequence"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AllowedTP(_Frozen):
    """TP sizes a version accepts: listed values, or any multiple of `multiple_of`."""

    values: tuple[int, ...]
    multiple_of: int | None = None

    def allows(self, tp: int) -> bool:
        """True if `tp` is listed or a multiple of `multiple_of` (2025.x: 1, 2, 4, 8k)."""
        return tp in self.values or (self.multiple_of is not None and tp % self.multiple_of == 0)

    def describe(self) -> str:
        listed = ", ".join(map(str, self.values))
        return listed + (f" or a multiple of {self.multiple_of}" if self.multiple_of else "")


class VersionRules(_Frozen):
    """How one range of furiosa-llm versions turns a bucket config into graphs."""

    id: str
    matches: tuple[str, ...]
    source: str
    default_tp: int
    allowed_tp: AllowedTP
    allowed_tp_inferred: bool
    chunked_prefill: bool
    chunk_limit: Literal["max_seq_len_to_capture", "max_prompt_len"] | None
    manual_prefill_with_chunking: Literal["kept", "ignored"]
    nonfinal_chunk_logits_sizes: tuple[int, ...]
    speculative_decoding: bool
    append_buckets: bool
    tokenwise_seq_lens: bool
    presets: bool
    validation: tuple[ValidationRule, ...]
    skippable_validation: tuple[ValidationRule, ...] = ()
    naming: Literal["legacy", "composable"]
    max_context: int | None
    check_max_position_embeddings: bool
    compile_kv_extra_blocks: int | None
    decode_grouping: DecodeGrouping
    emit: Literal["artifact_builder", "artifact_builder_bucket_config", "fxb_build"]


class PeFusion(_Frozen):
    pes_per_chip: int
    allowed_fusion: tuple[int, ...]
    source: str


class CompilerTarget(_Frozen):
    """The compiler's memory per fused-PE target (SRAM) and its per-PE DRAM window."""

    source: str
    size_dram_per_pe_bytes: int
    sram_bytes_by_fused_pes: dict[int, int]


class AttentionLayout(_Frozen):
    head_dim_lane: int = Field(gt=0)
    mask_bytes_per_element: int = Field(gt=0)
    source: str


class CompileEvidence(_Frozen):
    """One attention graph known to have compiled (or failed) on `fused_pes` PEs."""

    fused_pes: int
    shape: str
    mask_elements: int
    outcome: Literal["compiled", "failed"]
    certainty: Literal["observed", "inferred"]
    source: str


class PresetMatch(_Frozen):
    model_type: str
    hidden_size: int
    intermediate_size: int
    weights: str


class PresetEntry(_Frozen):
    """A 2026.2+ per-model preset, known by its bucket counts only."""

    key: str
    match: PresetMatch
    prefill: int
    decode: int
    append: int
    tokenwise: int
    max_prefill_q: int
    max_decode_batch_times_attn: int


class Presets(_Frozen):
    source: str
    entries: tuple[PresetEntry, ...]


class BuilderDefaults(_Frozen):
    max_seq_len_to_capture: int
    source: str


class FuriosaRules(_Frozen):
    """The whole data file."""

    default_version: str
    versions: tuple[VersionRules, ...]
    builder_defaults: BuilderDefaults
    pe_fusion: PeFusion
    compiler_targets: dict[str, CompilerTarget]
    attention_layout: AttentionLayout
    compile_evidence: tuple[CompileEvidence, ...]
    presets: Presets

    def version(self, name: str | None) -> VersionRules:
        """The rule for a version string: '2025.3', '2025.3.4' and '2025.3.0' all give 2025.3."""
        wanted = str(name if name is not None else self.default_version).strip()
        parts = wanted.split(".")
        key = ".".join(parts[:2])
        if len(parts) >= 2 and all(p.isdigit() for p in parts):
            for rule in self.versions:
                if key in rule.matches:
                    return rule
        known = ", ".join(m for r in self.versions for m in r.matches)
        raise InferplanError("furiosa_llm_version", name, f"known versions: {known}")


@cache
def furiosa_rules() -> FuriosaRules:
    """The bundled rules (parsed once)."""
    text = (resources.files("inferplan") / "data" / RULES_FILE).read_text(encoding="utf-8")
    return FuriosaRules.model_validate(parse_bundled_yaml(text))
