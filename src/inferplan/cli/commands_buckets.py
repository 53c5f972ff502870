"""`inferplan buckets CONFIG`: the graphs a static-shape compiler builds, their risk,
their padding under a length distribution, and a better bucket set (the work:
`actions/buckets.py`)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from inferplan.cli.app import app


class Emit(str, Enum):
    furiosa_llm = "furiosa-llm"


class Split(str, Enum):
    keep = "keep"
    free = "free"
    flops = "flops"


class Objective(str, Enum):
    flops = "flops"
    time = "time"


@app.command("buckets")
def buckets_command(
    config: Annotated[str, typer.Argument(help="Bucket config YAML/JSON (target: "
                                          "furiosa-llm (default), jetstream or vllm)")],
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
    emit: Annotated[Emit | None, typer.Option(
        "--emit", help="Print the build script/command for the suggested buckets")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Write --emit output here")] = None,
    lengths: Annotated[str | None, typer.Option(
        "--lengths", help="CSV/JSONL with prompt and output length columns")] = None,
    distribution: Annotated[str | None, typer.Option(
        "--distribution", help="chat | long-context | lognormal:prompt_median=..,...")] = None,
    max_graphs: Annotated[int | None, typer.Option(
        "--max-graphs", min=1, help="Graph budget for the suggestion (default: as configured)")]
    = None,
    tp: Annotated[int | None, typer.Option("--tp", min=1, help="Override "
                                           "tensor_parallel_size")] = None,
    no_suggest: Annotated[bool, typer.Option("--no-suggest", help="Skip the optimiser")]
    = False,
    ignore_evidence: Annotated[bool, typer.Option(
        "--ignore-evidence", help="Let suggestions exceed graph sizes known to compile")]
    = False,
    split: Annotated[Split, typer.Option(
        "--split", help="keep: prefill/decode graph shares as configured; free (or flops): "
        "trade them by the objective")] = Split.keep,
    objective: Annotated[Objective | None, typer.Option(
        "--objective", help="What the suggestion minimises: wasted FLOPs or wasted step "
        "time on the config's hardware (default: the config's objective, else flops)")]
    = None,
) -> None:
    """Graphs a compiler builds for a bucket config, their risk, padding, and a better set."""
    from inferplan.cli.actions.buckets import run_buckets

    run_buckets(config, json_out, emit, out, lengths, distribution, max_graphs, tp,
                no_suggest, ignore_evidence, split, objective)
