"""`inferplan buckets CONFIG`: the graphs a static-shape compiler builds, their risk,
their padding under a length distribution, and a better bucket set."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from inferplan.buckets.config import (
    BucketConfig,
    JetStreamConfig,
    VllmCaptureConfig,
    parse_any_config,
)
from inferplan.buckets.costs import flops_cost
from inferplan.buckets.cuda_graphs import plan_vllm
from inferplan.buckets.emit import furiosa_build_text
from inferplan.buckets.lengths import (
    LengthDistribution,
    lengths_from_records,
    named_distribution,
)
from inferplan.buckets.plan import DEFAULT_DISTRIBUTION, plan_buckets
from inferplan.buckets.xla import plan_jetstream
from inferplan.cli.commands_buckets import Emit, Objective, Split
from inferplan.cli.files import check_output_file, read_mapping, read_text, write_text
from inferplan.cli.loader import load_chip, load_model
from inferplan.report.buckets_report import (
    buckets_json,
    jetstream_json,
    render_buckets,
    render_jetstream,
    render_vllm,
    vllm_json,
)
from inferplan.report.json_out import to_json
from inferplan.units import InferplanError


def read_length_rows(path: str) -> list[dict[str, Any]]:
    """Rows of a CSV (header line) or JSONL (one object per line) length file."""
    p = Path(path)
    text = read_text(p, "--lengths")
    if p.suffix in (".jsonl", ".json", ".ndjson"):
        rows: list[dict[str, Any]] = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    raise InferplanError("lengths", f"{path}:{i}", "is not a JSON object line"
                                         ) from None
                if not isinstance(item, dict):
                    raise InferplanError("lengths", f"{path}:{i}", "must be a JSON object")
                rows.append(item)
        return rows
    return list(csv.DictReader(text.splitlines()))


def _distribution(lengths: str | None, distribution: str | None) -> LengthDistribution:
    if lengths and distribution:
        raise InferplanError("--lengths", lengths, "give --lengths or --distribution, not both")
    if lengths:
        return lengths_from_records(read_length_rows(lengths), name=Path(lengths).name)
    return named_distribution(distribution or DEFAULT_DISTRIBUTION)


def run_buckets(config: str, json_out: bool, emit: Emit | None, out: str | None,
                lengths: str | None, distribution: str | None, max_graphs: int | None,
                tp: int | None, no_suggest: bool, ignore_evidence: bool, split: Split,
                objective: Objective | None) -> None:
    if out is not None:
        check_output_file(out, "--out")
    raw = read_mapping(config, "config")
    base = Path(config).resolve().parent
    cfg = parse_any_config(raw, "config")
    console = Console()
    if isinstance(cfg, VllmCaptureConfig):
        vres = plan_vllm(cfg.max_num_seqs, cfg.scheme, cfg.num_speculative_tokens,
                         cfg.max_num_batched_tokens, cfg.cudagraph_capture_sizes,
                         cfg.batch_sizes)
        print(to_json(vllm_json(vres))) if json_out else render_vllm(vres, console)
        return
    dist = _distribution(lengths, distribution)
    model = load_model(cfg.model, base)
    if isinstance(cfg, JetStreamConfig):
        jres = plan_jetstream(cfg.prefill_lengths, cfg.max_prefill_length, dist,
                              flops_cost(model), add_bos=cfg.add_bos)
        print(to_json(jetstream_json(jres))) if json_out else render_jetstream(jres, console)
        return
    assert isinstance(cfg, BucketConfig)
    chip = load_chip(cfg.hardware, base)
    result = plan_buckets(cfg, model, chip, dist, max_graphs=max_graphs, tp=tp,
                          optimise=not no_suggest or emit is not None,
                          respect_evidence=not ignore_evidence, split=split.value,
                          objective=None if objective is None else objective.value)
    if emit is not None:
        d = result.deployment
        if not d.fits:
            raise InferplanError(
                "--emit", emit.value, f"{cfg.model} does not fit: "
                f"{d.weight_bytes_per_device / 1e9:.2f} GB of weights per fused device "
                f"against a {d.memory_bytes / 1e9:.2f} GB memory window, whatever the "
                "buckets; give a larger --tp (no build script is written)")
        s = result.suggestion
        assert s is not None
        model_id = cfg.model_id or _hf_repo(cfg.model) or cfg.model
        text = furiosa_build_text(s.config, s.plan, model_id)
        if out:
            write_text(out, text, "--out")
            Console(stderr=True).print(f"wrote {out}", highlight=False)
        else:
            print(text, end="")
        return
    if json_out:
        print(to_json(buckets_json(result)))
    else:
        render_buckets(result, console)


def _hf_repo(name: str) -> str | None:
    from inferplan.models import model_catalog

    entry = model_catalog().get(name)
    return entry.hf_repo if entry else None
