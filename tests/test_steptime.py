"""`inferplan.steptime`: one way to a step time; a calibration plugs in as a model."""

from __future__ import annotations

import ast
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import make

from inferplan import cost, steptime
from inferplan.serving import estimate
from inferplan.units import InferplanError

SRC = Path(__file__).resolve().parents[1] / "src" / "inferplan"


def test_analytic_model_is_the_roofline() -> None:
    dep, _ = make(model="qwen3-32b", hardware="h100-sxm", chips=2, parallelism={"tp": 2},
                  engine="vllm")
    a = steptime.step_cost(dep, "decode", np.array([1.0, 8.0]), 1, 1000)
    b = cost.step_cost(dep, "decode", np.array([1.0, 8.0]), 1, 1000)
    np.testing.assert_array_equal(a.latency_s, b.latency_s)
    assert steptime.step_time_model(dep) is steptime.ANALYTIC


def test_calibration_scales_the_named_terms() -> None:
    """The docstring's number: 10 ms weights + 2 ms overhead, weights ×1.1 → 13 ms."""
    dep, wl = make(model="qwen3-32b", hardware="h100-sxm", chips=1, engine="vllm",
                   workload={"input_len": 1024, "output_len": 128, "concurrency": 8})
    cal = steptime.calibration_from_mapping({"scale": {"weights": 1.1, "overhead": 1.5},
                                             "source": "test"}, "cal.yaml")
    base = steptime.step_cost(dep, "decode", 1, 1, 100)
    scaled = steptime.step_cost(replace(dep, step_time=cal), "decode", 1, 1, 100)
    want = (base.latency_s + 0.1 * base.weights_s + 0.5 * base.overhead_s)
    assert float(scaled.latency_s) == pytest.approx(float(want), rel=1e-12)
    assert float(scaled.compute_s) == pytest.approx(float(base.compute_s))
    # the serving model sees it: every command that prices steps does
    slow = estimate(replace(dep, step_time=cal), wl)
    assert slow.tpot_s > estimate(dep, wl).tpot_s


def test_step_latency_is_the_step_costs() -> None:
    """`step_latency_s` (the latency alone) is `step_cost(...).latency_s`, bit for bit,
    under the analytic model (its own path) and under a calibration (the model's step):
    prefill columns and decode contexts at three batches, tp 2 under vLLM."""
    dep, _ = make(model="qwen3-32b", hardware="h100-sxm", chips=2, parallelism={"tp": 2},
                  engine="vllm")
    cal = steptime.calibration_from_mapping({"scale": {"kv": 1.2}}, "cal.yaml")
    B = np.array([[1.0], [8.0], [96.0]])
    for d in (dep, replace(dep, step_time=cal)):
        for phase, q, kv in (("prefill", np.array([[300.0, 4000.0]]), 0.0),
                             ("decode", 1.0, np.array([[300.0, 301.0, 302.0]]))):
            np.testing.assert_array_equal(steptime.step_latency_s(d, phase, B, q, kv),
                                          steptime.step_cost(d, phase, B, q, kv).latency_s)


@pytest.mark.parametrize(("data", "field"), [
    ({}, "cal.yaml.scale"),
    ({"scale": {"weight": 1.1}}, "cal.yaml.scale.weight"),
    ({"scale": {"weights": -1}}, "cal.yaml.scale.weights"),
    ({"scale": {"weights": float("nan")}}, "cal.yaml.scale.weights"),
    ({"scale": {"weights": 1.1}, "extra": 1}, "cal.yaml.extra"),
])
def test_bad_calibrations_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(InferplanError) as err:
        steptime.calibration_from_mapping(data, "cal.yaml")
    assert err.value.field == field


def test_scenario_calibration_file_through_the_cli(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from inferplan.cli import main
    (tmp_path / "cal.yaml").write_text("scale: {weights: 2.0}\nsource: a made-up test ratio\n")
    base = ("model: qwen3-32b\nhardware: h100-sxm\nchips: 1\nengine: vllm\n"
            "workload: {input_len: 1024, output_len: 128, batch: 1}\n")
    (tmp_path / "plain.yaml").write_text(base)
    (tmp_path / "cal-s.yaml").write_text(base + "calibration: cal.yaml\n")
    (tmp_path / "bad-s.yaml").write_text(base + "calibration: missing.yaml\n")
    tpots = []
    for name in ("plain.yaml", "cal-s.yaml"):
        monkeypatch.setattr(sys, "argv", ["inferplan", "estimate", str(tmp_path / name),
                                          "--json"])
        with pytest.raises(SystemExit):
            main()
        import json
        tpots.append(json.loads(capsys.readouterr().out)["tpot_s"])
    assert tpots[1] > 1.5 * tpots[0]
    monkeypatch.setattr(sys, "argv", ["inferplan", "estimate", str(tmp_path / "bad-s.yaml")])
    with pytest.raises(SystemExit) as code:
        main()
    assert code.value.code == 2
    assert "calibration" in capsys.readouterr().err


def test_only_steptime_imports_the_analytic_step() -> None:
    """No module but `steptime` reaches `cost.step_cost`/`mixed_step_cost` (or its
    latency alone, `mixed_step_latency_s`) directly."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name in ("steptime.py", "cost.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "inferplan.cost":
                names = {a.name for a in node.names}
                if names & {"step_cost", "mixed_step_cost", "mixed_step_latency_s"}:
                    offenders.append(str(path.relative_to(SRC)))
    assert not offenders, offenders
