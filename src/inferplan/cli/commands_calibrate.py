"""`inferplan calibrate`: time a scaled model's forward passes on a device, fit the
step model to them, write the calibration file every pricing command accepts with
`--calibration` (needs the `jax` extra; the work: `actions/calibrate.py`)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferplan.cli.app import app


@app.command("calibrate")
def calibrate_command(
    device: Annotated[str, typer.Option(
        "--device", help="The jax platform to time: cpu (gpu or tpu where jax has one)")
    ] = "cpu",
    model: Annotated[str, typer.Option(
        "--model", help="Catalog model the timed model is scaled down from (Llama-shaped, "
                        "dense or MoE)")] = "llama-3.1-8b",
    out: Annotated[str | None, typer.Option(
        "--out", help="Write the calibration file here (YAML; JSON for a .json name)")
    ] = None,
    chip_out: Annotated[str | None, typer.Option(
        "--chip-out", help="Also write the measured device as a hardware YAML (the chip the "
                           "ratios are relative to), for a scenario's hardware:")] = None,
    statistic: Annotated[str, typer.Option(
        "--statistic", help="A step's time: the median of its runs, or the best run (the "
                            "least disturbed on a busy machine)")] = "median",
    quick: Annotated[bool, typer.Option(
        "--quick", help="A small grid of a smaller model: seconds, for tests")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the calibration as JSON")]
    = False,
) -> None:
    """Time prefill, decode and mixed steps over a grid, fit the step model's ratios and
    fixed costs, and print measured vs predicted per point, before and after the fit,
    with held-out points the fit did not see."""
    from inferplan.cli.actions.calibrate import run_calibrate

    run_calibrate(device, model, out, chip_out, statistic, quick, json_out)
