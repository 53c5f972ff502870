"""`inferplan validate`: predictions against published measurements (the work:
`actions/validate.py`)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferplan.cli.app import app


@app.command("validate")
def validate_command(
    measurements: Annotated[str | None, typer.Argument(
        help="CSV with the columns of measured_dev.csv or of serving_dev.csv; omitted: "
             "the bundled copy")] = None,
    serving: Annotated[bool, typer.Option(
        "--serving", help="Score the bundled closed-loop serving runs (serving_dev.csv) "
                          "against aiconfigurator's predictions of the same rows")] = False,
    simulate: Annotated[bool, typer.Option(
        "--simulate", help="With serving rows: predict through the request-level simulator "
                           "(each row's client protocol) instead of the closed form; about "
                           "15-20 minutes for the whole file on 2 cores")] = False,
    efficiency: Annotated[str, typer.Option(help="realistic or ideal")] = "realistic",
    rows: Annotated[bool, typer.Option("--rows", help="Also list every mapped row")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
) -> None:
    """Error of the model per source and per hardware (median, p90 APE, bias); with
    --serving or a serving CSV, TPOT/TTFT MAPE per (model, GPU, engine) beside the peer's."""
    from inferplan.cli.actions.validate import run_validate

    run_validate(measurements, serving, simulate, efficiency, rows, json_out)
