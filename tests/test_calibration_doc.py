"""docs/calibration.md and the run it records stay true: the table is the recorded
file's, the chip and the scaled model beside it are the ones that run measured and
timed, the file reloads into a step model that prices the recorded steps as the run
did, and the figures the prose quotes are the file's. Refresh the table after a new run
with `.venv/bin/python tools/update_calibration_doc.py`."""

from __future__ import annotations

import json

import pytest
import yaml
from tools.update_calibration_doc import DOC, RECORD, doc_table, table_text

from inferplan import steptime
from inferplan.calibrate import FULL, GridPoint, scaled_model
from inferplan.cli.loader import load_scenario
from inferplan.hardware import chip_from_dict
from inferplan.models import catalog_model, model_from_hf_config

FOLDER = RECORD.parent
RECORDED = yaml.safe_load(RECORD.read_text(encoding="utf-8"))


def test_the_doc_shows_the_recorded_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    first, end = doc_table(text)
    shown = "\n".join(line.rstrip() for line in text.splitlines()[first:end])
    assert shown == table_text(), ("docs/calibration.md is stale: run "
                                   ".venv/bin/python tools/update_calibration_doc.py")


def test_the_prose_quotes_the_recorded_figures() -> None:
    fit = RECORDED["fit"]
    text = DOC.read_text(encoding="utf-8")
    after = f"{fit['median_error_held_out_after'] * 100:.1f}%"
    before = f"{fit['median_error_held_out_before'] * 100:.1f}%"
    assert f"median held-out error {after} ({before} before" in text
    assert fit["median_error_held_out_after"] <= 0.10      # the benchmark's target


def test_the_chip_and_model_are_the_runs() -> None:
    chip = chip_from_dict(yaml.safe_load((FOLDER / "host-cpu.yaml").read_text("utf-8")))
    assert chip == chip_from_dict(RECORDED["device"]["chip"])
    config = json.loads((FOLDER / "llama-3.1-8b-scaled" / "config.json").read_text("utf-8"))
    spec = model_from_hf_config(config, name="llama-3.1-8b-scaled")
    scaled, _ = scaled_model(catalog_model(RECORDED["model"]["source_model"]), FULL.hidden,
                             FULL.layers, FULL.vocab)
    assert spec.parameters == scaled.parameters
    for field, key in (("num_layers", "L"), ("hidden_size", "D"), ("intermediate_size", "F"),
                       ("num_heads", "N"), ("num_kv_heads", "K"), ("head_dim", "H"),
                       ("vocab_size", "V")):
        assert getattr(spec, field) == getattr(scaled, field) == RECORDED["model"][key]


@pytest.mark.parametrize("index", [i for i, p in enumerate(RECORDED["points"])
                                   if p["layers"] == RECORDED["model"]["L"]])
def test_the_file_prices_the_recorded_steps_as_the_run_did(index: int) -> None:
    """Loaded through the scenario (the CLI's loader), the calibration prices each step
    of the run at full depth (the scenario's model) at the `predicted_after_s` the run
    wrote."""
    point = RECORDED["points"][index]
    dep, _ = load_scenario(FOLDER / "scaled-llama-on-cpu.yaml",
                           calibration=str(FOLDER / "cpu-2core.yaml"))
    assert isinstance(dep.step_time, steptime.CalibratedStepTime)
    grid_point = GridPoint(point["phase"], point["batch"], point["context"], point["prompt"],
                           point["layers"])
    cost = steptime.mixed_step_cost(dep, grid_point.segments())
    assert float(cost.latency_s) == pytest.approx(point["predicted_after_s"], rel=1e-9)
