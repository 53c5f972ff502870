"""A calibration file, as `inferplan calibrate` writes it, reads back into the same
step-time model, and plugs in wherever steps are priced: a scenario's `calibration:`, and
`--calibration FILE` on every pricing command (one loader: `cli.loader.flag_calibration`)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import cli, one_line_error
from tests.test_calibrate_fit import FIXED, RATIOS, synthetic

from inferplan import steptime
from inferplan.calibrate import FULL
from inferplan.calibrate.evaluate import calibrate_from, calibrated_model
from inferplan.cli.actions.calibrate import calibration_text
from inferplan.cli.files import read_mapping
from inferplan.cli.loader import load_scenario
from inferplan.cost import RooflineParts, StepCost

SCENARIO = ("model: llama-3.1-8b\nhardware: h100-sxm\nchips: 1\nengine: vllm\n"
            "workload: {input_len: 1024, output_len: 128, batch: 8}\n")
SPACE = ("model: llama-3.1-8b\nhardware: h100-sxm\nchips: 2\nparallelism: {tp: [1, 2]}\n"
         "workload: {input_len: 1024, output_len: 128, concurrency: {min: 1, max: 64}}\n"
         "slo: {tpot_s: 1.0}\nobjective: throughput_per_chip\n")


@pytest.fixture(scope="module")
def calibration() -> dict[str, object]:
    return calibrate_from(synthetic(FULL, RATIOS, FIXED)).file_mapping()


@pytest.mark.parametrize("name", ["cal.yaml", "cal.json"])
def test_the_file_round_trips(tmp_path: Path, calibration: dict[str, object],
                              name: str) -> None:
    path = tmp_path / name
    path.write_text(calibration_text(calibration, name))
    loaded = steptime.calibration_from_mapping(read_mapping(path, "calibration"), name)
    result = calibrate_from(synthetic(FULL, RATIOS, FIXED))
    assert loaded == calibrated_model(result.fit, result.source)
    assert dict(loaded.scale) == pytest.approx(RATIOS)
    assert (loaded.per_step_s, loaded.per_sequence_layer_s) == pytest.approx(
        (FIXED["per_step_s"], FIXED["per_sequence_layer_s"]))
    assert (loaded.efficiency, loaded.overlap) == ("ideal", "none")
    for key in ("date", "device", "software", "model", "fit", "points"):
        assert key in read_mapping(path, "calibration")


def test_a_scenario_with_it_prices_the_scaled_step(tmp_path: Path,
                                                   calibration: dict[str, object]) -> None:
    """Σ ratio · part of the roofline the ratios were fitted against (ideal, whatever the
    scenario's efficiency; each part in full), plus c_step + L·n·c_sequence, by hand."""
    (tmp_path / "cal.yaml").write_text(calibration_text(calibration, "cal.yaml"))
    (tmp_path / "s.yaml").write_text(SCENARIO + "calibration: cal.yaml\n")
    dep, _ = load_scenario(tmp_path / "s.yaml")
    assert isinstance(dep.step_time, steptime.CalibratedStepTime)
    got = steptime.step_cost(dep, "prefill", 2, 512, 0)
    base = steptime.ANALYTIC.step(replace(dep, step_time=None, efficiency="ideal"),
                                  [steptime.Segment("prefill", 2, 512, 0)]).parts
    assert base is not None and float(base.attention_compute_s) > 0
    want = (RATIOS["compute"] * base.matmul_compute_s
            + RATIOS["attention"] * base.attention_compute_s
            + RATIOS["weights"] * base.weight_read_s + RATIOS["kv"] * base.kv_read_s
            + FIXED["per_step_s"] + 32 * 2 * FIXED["per_sequence_layer_s"])
    assert float(got.latency_s) == pytest.approx(float(want), rel=1e-9)
    assert float(got.compute_s + got.weights_s + got.kv_s + got.communication_s
                 + got.overhead_s) == pytest.approx(float(got.latency_s))


def test_the_docstring_step() -> None:
    """10 ms weights + 2 ms overhead, weights ×1.1: 13 ms; + 0.1 ms a step, 0.02 ms a
    layer and 1 µs a sequence and layer, 8 sequences over 32 layers: 13.996 ms."""
    zero = np.zeros(())

    class Fixed:
        def step(self, deployment: object, segments: object) -> StepCost:
            parts = RooflineParts(zero, zero, zero, zero, zero, np.asarray(8.0))
            return StepCost("decode", zero, zero, zero, zero, zero, np.asarray(0.010), zero,
                            zero, np.asarray(0.002), np.asarray(0.012), zero, parts=parts)

    dep, _ = load_scenario(None)
    dep = replace(dep, model=replace(dep.model, num_layers=32, layer_windows=(None,) * 32,
                                     layer_moe=(False,) * 32, layer_attention=("full",) * 32))
    cal = steptime.CalibratedStepTime(Fixed(), (("weights", 1.1),))
    assert float(cal.step(dep, []).latency_s) == pytest.approx(0.013)
    cal = replace(cal, per_step_s=1e-4, per_layer_s=2e-5, per_sequence_layer_s=1e-6)
    assert float(cal.step(dep, []).latency_s) == pytest.approx(0.013996)
    assert float(steptime.fixed_cost_s(1e-4, 2e-5, 1e-6, 32, 8)) == pytest.approx(9.96e-4)


def _tpot(capsys: pytest.CaptureFixture[str], *args: str) -> float:
    code, out, err = cli(capsys, "estimate", *args, "--json")
    assert code == 0, err
    return float(json.loads(out)["tpot_s"])


def test_calibration_flag_on_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      calibration: dict[str, object]) -> None:
    (tmp_path / "cal.yaml").write_text(calibration_text(calibration, "cal.yaml"))
    (tmp_path / "plain.yaml").write_text(SCENARIO)
    (tmp_path / "own.yaml").write_text(SCENARIO + "calibration: cal.yaml\n")
    (tmp_path / "gone.yaml").write_text(SCENARIO + "calibration: missing.yaml\n")
    plain = _tpot(capsys, str(tmp_path / "plain.yaml"))
    flagged = _tpot(capsys, str(tmp_path / "plain.yaml"), "--calibration",
                    str(tmp_path / "cal.yaml"))
    assert flagged != pytest.approx(plain, rel=0.01)
    assert flagged == _tpot(capsys, str(tmp_path / "own.yaml"))
    # the flag overrides the scenario's own calibration (which is then not read)
    assert flagged == _tpot(capsys, str(tmp_path / "gone.yaml"), "--calibration",
                            str(tmp_path / "cal.yaml"))


@pytest.mark.parametrize("command", [["simulate"],
                                     ["speculative", "--draft", "llama-3.2-1b", "--alpha", "0.7"]])
def test_calibration_flag_on_the_scenario_commands(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   calibration: dict[str, object],
                                                   command: list[str]) -> None:
    (tmp_path / "cal.yaml").write_text(calibration_text(calibration, "cal.yaml"))
    (tmp_path / "s.yaml").write_text(SCENARIO.replace("batch: 8", "concurrency: 4"))
    outs = []
    for extra in ([], ["--calibration", str(tmp_path / "cal.yaml")]):
        code, out, err = cli(capsys, command[0], str(tmp_path / "s.yaml"), *command[1:],
                             *extra, "--json")
        assert code == 0, err
        outs.append(json.loads(out))
    assert outs[0] != outs[1]


@pytest.mark.parametrize("command", [["search"], ["recommend", "--target-tokens-per-s", "100"],
                                     ["disagg"]])
def test_calibration_flag_on_the_space_commands(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                calibration: dict[str, object],
                                                command: list[str]) -> None:
    (tmp_path / "cal.yaml").write_text(calibration_text(calibration, "cal.yaml"))
    (tmp_path / "space.yaml").write_text(SPACE)
    outs = []
    for extra in ([], ["--calibration", str(tmp_path / "cal.yaml")]):
        code, out, err = cli(capsys, command[0], str(tmp_path / "space.yaml"), *command[1:],
                             *extra, "--json")
        assert code == 0, err
        outs.append(out)
    assert outs[0] != outs[1]


@pytest.mark.parametrize("command", [
    ["estimate", "{s}"], ["simulate", "{s}"], ["capacity", "{s}", "--ttft-p90", "1",
                                               "--tpot-p90", "1"],
    ["speculative", "{s}", "--draft", "llama-3.2-1b", "--alpha", "0.7"],
    ["search", "{space}"], ["recommend", "{space}", "--target-tokens-per-s", "1"],
    ["frontier", "{space}"], ["disagg", "{space}"], ["report", "{s}", "--out", "{out}"]])
def test_every_pricing_command_reads_the_flag(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              command: list[str]) -> None:
    """A missing and a malformed file: one line naming `--calibration` and the file."""
    (tmp_path / "s.yaml").write_text(SCENARIO.replace("batch: 8", "concurrency: 4"))
    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "bad.yaml").write_text("scale: {weights: -1}\n")
    args = [a.format(s=tmp_path / "s.yaml", space=tmp_path / "space.yaml",
                     out=tmp_path / "r.html") for a in command]
    line = one_line_error(capsys, *args, "--calibration", str(tmp_path / "none.yaml"))
    assert line.startswith("error: --calibration: ") and "none.yaml" in line
    line = one_line_error(capsys, *args, "--calibration", str(tmp_path / "bad.yaml"))
    assert line.startswith("error: bad.yaml.scale.weights: -1 ")


@pytest.mark.parametrize(("data", "field"), [
    ({"scale": {"kv": 1.0}, "fixed": {"per_token_s": 1e-6}}, "cal.yaml.fixed.per_token_s"),
    ({"scale": {"kv": 1.0}, "fixed": {"per_step_s": -1e-6}}, "cal.yaml.fixed.per_step_s"),
    ({"scale": {"kv": 1.0}, "fixed": [1]}, "cal.yaml.fixed"),
    ({"scale": {"kv": 1.0}, "efficiency": "great"}, "cal.yaml.efficiency"),
    ({"scale": {"kv": 1.0}, "overlap": "some"}, "cal.yaml.overlap"),
    ({"scale": {"attention": True}}, "cal.yaml.scale.attention"),
])
def test_bad_fixed_costs_and_modes(data: dict[str, object], field: str) -> None:
    from inferplan.units import InferplanError

    with pytest.raises(InferplanError) as err:
        steptime.calibration_from_mapping(data, "cal.yaml")
    assert err.value.field == field
