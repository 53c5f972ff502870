"""`inferplan validate`: predictions against published measurements."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rich.console import Console

from inferplan.cli.files import read_text
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.report.json_out import to_json
from inferplan.report.serving_validation_table import render_serving_validation
from inferplan.report.validation_table import render_validation
from inferplan.sim.run import simulated_means, simulated_pool_means
from inferplan.units import InferplanError
from inferplan.validate import (
    acceptance_cases,
    bundled_measurements_text,
    error_table,
    read_rows,
    run_validation,
    validation_dict,
)
from inferplan.validate_serving import (
    bundled_serving_text,
    closed_form,
    coverage,
    is_serving_csv,
    read_serving_rows,
    run_serving_validation,
    serving_table,
    serving_validation_dict,
)


def run_validate(measurements: str | None, serving: bool, simulate: bool, efficiency: str,
                 rows: bool, json_out: bool) -> None:
    if efficiency not in ("realistic", "ideal"):
        raise InferplanError("--efficiency", efficiency, "allowed: realistic, ideal")
    mode: Literal["realistic", "ideal"] = "ideal" if efficiency == "ideal" else "realistic"
    if measurements is None:
        text, origin = ((bundled_serving_text(), "serving_dev.csv") if serving
                        else (bundled_measurements_text(), "measured_dev.csv"))
    else:
        path = Path(measurements)
        text, origin = read_text(path, "measurements"), path.name
    if serving or is_serving_csv(text):
        served, skips = run_serving_validation(read_serving_rows(text, origin),
                                               catalog_model, catalog_chip,
                                               simulated_means if simulate else closed_form,
                                               simulated_pool_means if simulate else None)
        if json_out:
            print(to_json(serving_validation_dict(served, skips)))
            return
        render_serving_validation(serving_table(served), skips, len(served),
                                  coverage(served, skips), Console(width=140),
                                  "simulated" if simulate else "closed form")
        return
    if simulate:
        raise InferplanError("--simulate", True, "applies to serving rows (--serving or a "
                                                 "serving CSV)")
    cases, skipped = run_validation(read_rows(text, origin), catalog_model, catalog_chip, mode)
    target = acceptance_cases(cases)
    if json_out:
        print(to_json(validation_dict(cases, skipped, mode)))
        return
    render_validation(error_table(cases), error_table(target), cases, skipped, mode,
                      Console(width=110), show_rows=rows)
