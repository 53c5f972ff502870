"""`inferplan speculative`: does a draft model make decoding faster, and with which γ?"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from inferplan.cli.loader import load_model, load_scenario
from inferplan.report.json_out import to_json
from inferplan.report.speculative_report import render_speculative
from inferplan.speculative import check_positive, speculative_result
from inferplan.units import InferplanError


def run_speculative(draft: str, alpha: float, gamma: int | None, gamma_max: int,
                    scenario: str | None, json_out: bool,
                    calibration: str | None = None) -> None:
    check_positive(gamma_max, "--gamma-max")
    if gamma is not None:
        check_positive(gamma, "--gamma")
    deployment, workload = load_scenario(scenario, calibration=calibration)
    try:
        draft_model = load_model(draft, Path.cwd())
    except InferplanError as exc:
        raise InferplanError("--draft", draft, exc.allowed) from None
    try:
        result = speculative_result(deployment, draft_model, workload, alpha, gamma, gamma_max)
    except InferplanError as exc:
        if exc.field != "draft":
            raise
        raise InferplanError("--draft", draft, exc.allowed) from None
    if json_out:
        print(to_json(result.to_dict()))
    else:
        render_speculative(result, Console())
