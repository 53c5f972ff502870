"""The work of `inferplan calibrate` (its options: `commands_calibrate.py`)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml
from rich.console import Console

from inferplan.calibrate import ACCELERATOR, DEVICES, FULL, QUICK, scaled_model
from inferplan.calibrate.timing import STATISTICS
from inferplan.cli.files import check_output_file, write_text
from inferplan.models import catalog_model
from inferplan.report.calibration_table import render_calibration
from inferplan.report.json_out import to_json
from inferplan.units import InferplanError

#: The dtype the timed model runs in on each platform.
DEVICE_DTYPES = {"cpu": "fp32", "gpu": "bf16", "tpu": "bf16"}


def calibration_text(record: dict[str, object], path: str) -> str:
    """The calibration file's text: JSON for a `.json` name, else YAML."""
    if Path(path).suffix.lower() == ".json":
        return to_json(record) + "\n"
    return yaml_text(record)


def yaml_text(record: object) -> str:
    """YAML of a record's plain values (numpy numbers become floats, via JSON)."""
    return str(yaml.safe_dump(json.loads(to_json(record)), sort_keys=False, width=100))


def run_calibrate(device: str, model: str, out: str | None, chip_out: str | None,
                  statistic: str, quick: bool, json_out: bool) -> None:
    if device not in DEVICES:
        raise InferplanError("--device", device, f"allowed: {', '.join(DEVICES)}")
    if statistic not in STATISTICS:
        raise InferplanError("--statistic", statistic, f"allowed: {', '.join(STATISTICS)}")
    for path, flag in ((out, "--out"), (chip_out, "--chip-out")):
        if path is not None:
            check_output_file(path, flag)
    try:
        source = catalog_model(model)
    except InferplanError as exc:
        raise InferplanError("--model", model, exc.allowed) from None
    grid = QUICK if quick else FULL if device == "cpu" else ACCELERATOR
    spec, scaling = scaled_model(source, grid.hidden, grid.layers, grid.vocab)
    if importlib.util.find_spec("jax") is None:
        raise InferplanError("jax", "not installed",
                             "calibrate needs the jax extra: pip install 'inferplan[jax]'")
    from inferplan.calibrate.evaluate import calibrate_from
    from inferplan.calibrate.measure import measure

    status = Console(stderr=True)
    progress = (lambda label: status.print(f"compiling {label}", highlight=False)
                ) if status.is_terminal else None
    measured = measure(grid, spec, scaling, DEVICE_DTYPES[device], device, progress)
    record = calibrate_from(measured, statistic).file_mapping()
    if out is not None:
        write_text(out, calibration_text(record, out), "--out")
    if chip_out is not None:
        device_record = record["device"]
        assert isinstance(device_record, dict)
        write_text(chip_out, yaml_text(device_record["chip"]), "--chip-out")
    if json_out:
        print(to_json(record))
        return
    console = Console()
    render_calibration(record, console)
    if out is not None:
        console.print(f"wrote {out}: use it with --calibration {out}", highlight=False)
    if chip_out is not None:
        console.print(f"wrote {chip_out}: the measured device, for a scenario's hardware:",
                      highlight=False)
