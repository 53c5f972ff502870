"""`inferplan disagg`: prefill and decode pools chosen from a space, against co-location."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from inferplan.cli.app import app
from inferplan.cli.commands_search import JsonOpt, SpaceArg
from inferplan.cli.files import read_mapping
from inferplan.cli.loader import load_chip, load_model
from inferplan.report.disagg_report import disagg_record, render_disagg
from inferplan.report.json_out import to_json
from inferplan.search import parse_space
from inferplan.search.disagg_search import run_disagg_search


@app.command("disagg")
def disagg_command(
    space: SpaceArg,
    top: Annotated[int, typer.Option("--top", min=1, help="How many decode designs to list")]
    = 5,
    json_out: JsonOpt = False,
) -> None:
    """Disaggregated serving: the best prefill and decode replicas of a space, how many
    prefill replicas feed a decode replica, and goodput per chip against the best
    co-located deployment under the same SLO."""
    raw = read_mapping(space, "space")
    base = Path(space).resolve().parent
    result = run_disagg_search(parse_space(raw, origin="space"),
                               lambda r: load_model(r, base), lambda r: load_chip(r, base))
    if json_out:
        print(to_json(disagg_record(result, top)))
        return
    render_disagg(result, Console(), top)
