"""`inferplan memory`: does it fit, and with how much room?"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from inferplan.cli.app import app
from inferplan.cli.loader import load_scenario
from inferplan.memory import memory_result
from inferplan.report.json_out import to_json
from inferplan.report.memory_table import render_memory


@app.command("memory")
def memory_command(
    scenario: Annotated[str | None, typer.Argument(
        help="Scenario YAML/JSON; omitted: the bundled default (LLaMA 3-70B on TPU v5e 4x2)")]
    = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
) -> None:
    """Per-chip weights, KV cache and working memory; fits or not; the largest batch."""
    deployment, workload = load_scenario(scenario)
    result = memory_result(deployment, workload)
    if json_out:
        print(to_json(result.to_dict()))
    else:
        render_memory(result, Console())
