"""Text a user can run: the ArtifactBuilder script or the `fxb build` command for a config."""

from __future__ import annotations

from inferplan.buckets.config import BucketConfig
from inferplan.buckets.furiosa_rules import GraphPlan


def _tuples(items: tuple[tuple[int, ...], ...], per_line: int = 6) -> str:
    if not items:
        return "[]"
    cells = [f"({', '.join(map(str, t))})" for t in items]
    lines = [", ".join(cells[i:i + per_line]) for i in range(0, len(cells), per_line)]
    return "[\n    " + ",\n    ".join(lines) + ",\n]"


def artifact_builder_script(cfg: BucketConfig, plan: GraphPlan, model_id: str) -> str:
    """A Python script calling furiosa-llm's ArtifactBuilder with these buckets."""
    version = plan.version
    kwargs = [f"tensor_parallel_size={plan.tp}",
              "prefill_buckets=PREFILL_BUCKETS", "decode_buckets=DECODE_BUCKETS",
              f"max_seq_len_to_capture={plan.max_seq_len_to_capture}"]
    for name in ("prefill_chunk_size", "max_prompt_len", "max_model_len"):
        value = getattr(cfg, name)
        if value is not None:
            kwargs.append(f"{name}={value}")
    if cfg.num_speculative_tokens:
        kwargs.append(f"num_speculative_tokens={cfg.num_speculative_tokens}")
    head = [f"# furiosa-llm {version.id}: {plan.count} graphs "
            f"(written by `inferplan buckets --emit furiosa-llm`)",
            "from furiosa_llm.artifact.builder import ArtifactBuilder", "",
            f"PREFILL_BUCKETS = {_tuples(cfg.prefill_buckets)}",
            f"DECODE_BUCKETS = {_tuples(cfg.decode_buckets)}"]
    if cfg.append_buckets:
        head.append(f"APPEND_BUCKETS = {_tuples(cfg.append_buckets)}")
        kwargs.append("append_buckets=APPEND_BUCKETS")
    if cfg.tokenwise_seq_lens:
        kwargs.append(f"tokenwise_seq_lens={list(cfg.tokenwise_seq_lens)}")
    if version.emit == "artifact_builder_bucket_config" or cfg.append_buckets:
        head.insert(1, "# 2026.x passes these through its BucketConfig; the argument names "
                       "follow furiosa.md, check them against your wheel's signature")
    body = ",\n    ".join([f'"{model_id}"', '"<artifact name>"', *kwargs])
    return "\n".join([*head, "", f"builder = ArtifactBuilder(\n    {body},\n)",
                      f'builder.build("./Output-{model_id.split("/")[-1]}", '
                      "num_pipeline_builder_workers=1, num_compile_workers=1)", ""])


def fxb_build_command(cfg: BucketConfig, plan: GraphPlan, model_id: str) -> str:
    """furiosa-llm 2026.4's `fxb build` with explicit (b, attn, q) attention buckets."""
    buckets = [(b, L, L) for b, L in cfg.prefill_buckets]
    buckets += [(b, L, 1) for b, L in cfg.decode_buckets]
    buckets += list(cfg.append_buckets)
    spec = ",".join(f"({b},{a},{q})" for b, a, q in buckets)
    parts = [f"fxb build {model_id}", f"-tp {plan.tp}", f"--attention-buckets '{spec}'"]
    if cfg.tokenwise_seq_lens:
        parts.append("--tokenwise-buckets " + ",".join(map(str, cfg.tokenwise_seq_lens)))
    if cfg.max_model_len:
        parts.append(f"--max-model-len {cfg.max_model_len}")
    if cfg.skip_bucket_validation:
        parts.append("--skip-bucket-validation")
    return ("# furiosa-llm 2026.4 fxb build (flags from furiosa.md; output options omitted)\n"
            + " \\\n  ".join(parts) + "\n")


def furiosa_build_text(cfg: BucketConfig, plan: GraphPlan, model_id: str) -> str:
    """The script or command for the plan's furiosa-llm version."""
    if plan.version.emit == "fxb_build":
        return fxb_build_command(cfg, plan, model_id)
    return artifact_builder_script(cfg, plan, model_id)
