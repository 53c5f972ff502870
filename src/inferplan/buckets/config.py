"""The bucket config file: furiosa-llm ArtifactBuilder's arguments plus planner options.

`parse_bucket_config(raw)` validates a mapping (read by the CLI from YAML/JSON) and
raises `InferplanError` naming the field, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from inferplan.units import Dtype, InferplanError
from inferplan.validation import validated

Positive = Annotated[StrictInt, Field(gt=0)]
#: Largest vLLM max_num_seqs and capture size accepted (every batch 1..max_num_seqs is
#: priced; engines run hundreds to a few thousand sequences).
MAX_VLLM_SEQS = 65_536
Seqs = Annotated[StrictInt, Field(gt=0, le=MAX_VLLM_SEQS)]
#: Longest bucket length (tokens) accepted: 2²⁰ = 1,048,576, past every model's context that
#: furiosa-llm runs; the suggestion searches every length up to the longest bucket.
MAX_BUCKET_TOKENS = 2**20
Length = Annotated[StrictInt, Field(gt=0, le=MAX_BUCKET_TOKENS)]
#: (batch, context length), as ArtifactBuilder's prefill_buckets / decode_buckets.
Bucket2 = tuple[Positive, Length]
#: (batch, attention length, new tokens q), as 2026.x append_buckets.
Bucket3 = tuple[Positive, Length, Length]


class BucketConfig(BaseModel):
    """One furiosa-llm artifact build, as ArtifactBuilder would receive it.

    Planner-only fields: `hardware`, the dtypes, `decode_batch_weights` (how often the
    engine runs each decode batch size; default: every configured decode batch equally),
    `decode_grouping` (default: the version's), `max_batch_context` (cap on decode
    batch x context for suggestions; default: the largest in the config),
    `bucket_multiple` (suggested lengths are multiples of it), `model_id` (the
    Hugging Face id written by --emit), `efficiency` (`realistic` or `ideal`: the
    roofline that prices steps in seconds on `hardware`, as in `inferplan estimate`) and
    `objective` (`flops` or `time`: what the suggestion minimises).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    target: Literal["furiosa-llm"] = "furiosa-llm"
    model: str
    model_id: str | None = None
    hardware: str = "rngd"
    furiosa_llm_version: str | None = None
    tensor_parallel_size: Positive | None = None
    prefill_buckets: tuple[Bucket2, ...] = ()
    decode_buckets: tuple[Bucket2, ...] = ()
    append_buckets: tuple[Bucket3, ...] = ()
    tokenwise_seq_lens: tuple[Length, ...] = ()
    max_seq_len_to_capture: Length | None = None
    max_prompt_len: Length | None = None
    max_model_len: Length | None = None
    prefill_chunk_size: Length | None = None
    num_speculative_tokens: Annotated[int, Field(ge=0)] = 0
    skip_bucket_validation: bool = False
    activation_dtype: Dtype = "bf16"
    kv_dtype: Dtype = "bf16"
    weight_dtype: Dtype = "bf16"
    decode_batch_weights: dict[Positive, Annotated[float, Field(gt=0)]] | None = None
    decode_grouping: Literal["batch_max", "per_sequence"] | None = None
    max_batch_context: Positive | None = None
    bucket_multiple: Positive = 128
    efficiency: Literal["realistic", "ideal"] = "realistic"
    objective: Literal["flops", "time"] = "flops"

    @field_validator("furiosa_llm_version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        """YAML reads 2025.3 as a float; keep the text."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value


class JetStreamConfig(BaseModel):
    """XLA/TPU prefill-length buckets (JetStream's `prefill_lengths`); default: JetStream's."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    target: Literal["jetstream"]
    model: str
    prefill_lengths: tuple[Length, ...] | None = None
    max_prefill_length: Length | None = None
    power_of_two: bool = True
    add_bos: bool = True

    @field_validator("prefill_lengths")
    @classmethod
    def _distinct_lengths(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        """A length listed twice is one bucket (one compiled program): sorted, distinct."""
        return None if value is None else tuple(sorted(set(value)))


class VllmCaptureConfig(BaseModel):
    """vLLM CUDA-graph capture sizes; default: vLLM's list for `scheme`."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    target: Literal["vllm"]
    model: str | None = None
    max_num_seqs: Seqs = 256
    scheme: Literal["v0.8", "v0.11"] = "v0.11"
    num_speculative_tokens: Annotated[int, Field(ge=0)] = 0
    max_num_batched_tokens: Positive | None = None
    cudagraph_capture_sizes: tuple[Seqs, ...] | None = None
    batch_sizes: tuple[Seqs, ...] | None = None

    @field_validator("cudagraph_capture_sizes", "batch_sizes")
    @classmethod
    def _distinct_sizes(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        """vLLM captures each size once (it de-duplicates and sorts the list)."""
        return None if value is None else tuple(sorted(set(value)))


AnyBucketConfig = BucketConfig | JetStreamConfig | VllmCaptureConfig
TARGETS: dict[str, type[BaseModel]] = {"furiosa-llm": BucketConfig,
                                       "jetstream": JetStreamConfig, "vllm": VllmCaptureConfig}


def parse_any_config(raw: Mapping[str, Any], origin: str = "buckets") -> AnyBucketConfig:
    """Pick the schema by `target` (furiosa-llm, jetstream or vllm) and validate."""
    if not isinstance(raw, Mapping):
        raise InferplanError(origin, type(raw).__name__, "must be a mapping")
    target = raw.get("target", "furiosa-llm")
    if not isinstance(target, str) or target not in TARGETS:
        raise InferplanError(f"{origin}.target", target, f"allowed: {', '.join(TARGETS)}")
    if target == "furiosa-llm":
        return parse_bucket_config(raw, origin)
    parsed = validated(TARGETS[target], raw, origin)
    assert isinstance(parsed, (JetStreamConfig, VllmCaptureConfig))
    return parsed


def parse_bucket_config(raw: Mapping[str, Any], origin: str = "buckets") -> BucketConfig:
    """Validate a bucket-config mapping; the first problem becomes an `InferplanError`."""
    return validated(BucketConfig, raw, origin)
