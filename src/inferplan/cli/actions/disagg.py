"""`inferplan disagg`: prefill and decode pools chosen from a space, against co-location."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from inferplan.cli.files import read_mapping
from inferplan.cli.loader import flag_calibration, load_chip, load_model
from inferplan.report.disagg_report import disagg_record, render_disagg
from inferplan.report.json_out import to_json
from inferplan.search import parse_space
from inferplan.search.budget import checked_size
from inferplan.search.disagg_search import run_disagg_search


def run_disagg(space: str, top: int, json_out: bool, timings: bool = False,
               calibration: str | None = None) -> None:
    flag = flag_calibration(calibration)
    raw = read_mapping(space, "space")
    base = Path(space).resolve().parent
    parsed = parse_space(raw, origin="space")
    size = checked_size(parsed)         # its co-located search holds every point
    if size.large:
        print(size.announcement(), file=sys.stderr, flush=True)
    result = run_disagg_search(parsed, lambda r: load_model(r, base),
                               lambda r: load_chip(r, base), step_time=flag)
    if json_out:
        print(to_json(disagg_record(result, top, timings)))
        return
    render_disagg(result, Console(), top)
