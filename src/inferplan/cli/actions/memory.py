"""`inferplan memory`: does it fit, and with how much room?"""

from __future__ import annotations

from rich.console import Console

from inferplan.cli.loader import load_scenario
from inferplan.memory import memory_result
from inferplan.report.json_out import to_json
from inferplan.report.memory_table import render_memory


def run_memory(scenario: str | None, json_out: bool) -> None:
    deployment, workload = load_scenario(scenario)
    result = memory_result(deployment, workload)
    if json_out:
        print(to_json(result.to_dict()))
    else:
        render_memory(result, Console())
