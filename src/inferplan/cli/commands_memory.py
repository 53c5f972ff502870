"""`inferplan memory`: does it fit, and with how much room? (the work: `actions/memory.py`)"""

from __future__ import annotations

from typing import Annotated

import typer

from inferplan.cli.app import app


@app.command("memory")
def memory_command(
    scenario: Annotated[str | None, typer.Argument(
        help="Scenario YAML/JSON; omitted: the bundled default (LLaMA 3-70B on TPU v5e 4x2)")]
    = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
) -> None:
    """Per-chip weights, KV cache and working memory; fits or not; the largest batch."""
    from inferplan.cli.actions.memory import run_memory

    run_memory(scenario, json_out)
