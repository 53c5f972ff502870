"""`inferplan calibrate`: the quick grid end to end on this CPU (skipped without jax) —
the table's numbers, the file it writes and a command priced with it — and its refusals,
one line each, before anything is timed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from tests.conftest import cli, one_line_error

from inferplan.calibrate import QUICK
from inferplan.report.calibration_table import render_calibration


def calibrate(*args: str) -> subprocess.CompletedProcess[str]:
    """`inferplan calibrate ARGS` in a child interpreter: jax's threads stay out of this
    process, which a later test forks (the sweep's worker pool)."""
    return subprocess.run([sys.executable, "-m", "inferplan", "calibrate", *args],
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """One `calibrate --quick --json --out cal.yaml --chip-out chip.yaml` for the module
    (seconds, mostly compiling the grid's nine steps)."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs the jax extra")
    out = tmp_path_factory.mktemp("cal") / "cal.yaml"
    done = calibrate("--device", "cpu", "--quick", "--out", str(out), "--chip-out",
                     str(out.with_name("chip.yaml")), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), out


def test_quick_calibration_times_every_point(quick_run: tuple[dict[str, Any], Path]) -> None:
    record, _ = quick_run
    points = record["points"]
    assert len(points) == len(QUICK.points())
    assert sum(p["held_out"] for p in points) == len(points) // 3
    for p in points:
        assert p["measured_s"] > 0 and p["predicted_before_s"] > 0 and p["predicted_after_s"] > 0
        assert p["error_after"] == pytest.approx(
            (p["predicted_after_s"] - p["measured_s"]) / p["measured_s"])
    fit = record["fit"]
    assert fit["grid"] == "quick" and fit["held_out_points"] == 3
    assert (record["efficiency"], record["overlap"]) == ("ideal", "none")
    assert set(record["fixed"]) == {"per_step_s", "per_layer_s", "per_sequence_layer_s"}
    assert record["device"]["chip"]["kind"] == "cpu"
    assert record["device"]["chip"]["peak_flops_per_s"]["fp32"] > 1e9
    assert {"jax", "jaxlib", "numpy", "python", "inferplan"} <= set(record["software"])
    assert record["model"]["source_model"] == "llama-3.1-8b" and record["model"]["D"] == 256
    assert record["date"].endswith("+00:00")


def test_the_table_renders_the_record(quick_run: tuple[dict[str, Any], Path]) -> None:
    record, _ = quick_run
    console = Console(width=120, record=True, color_system=None)
    render_calibration(record, console)
    text = console.export_text()
    assert "decode B=8 C=256" in text and "held out" in text and "median of 5 runs" in text
    assert "median |error| on the 3 held-out points" in text


def test_the_written_files_price_a_scenario(quick_run: tuple[dict[str, Any], Path],
                                            tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The calibration on any scenario, and on the measured chip (`--chip-out`)."""
    _, out = quick_run
    for hardware in ("h100-sxm", str(out.with_name("chip.yaml"))):
        scenario = tmp_path / "s.yaml"
        scenario.write_text(f"model: llama-3.2-1b\nhardware: {hardware}\nchips: 1\n"
                            "dtypes: {weights: fp32, kv: fp32, compute: fp32}\n"
                            "workload: {input_len: 512, output_len: 64, batch: 4}\n"
                            .replace("fp32", "fp32" if hardware != "h100-sxm" else "bf16"))
        code, stdout, err = cli(capsys, "estimate", str(scenario), "--calibration", str(out),
                                "--json")
        assert code == 0, err
        assert json.loads(stdout)["tpot_s"] > 0


@pytest.mark.parametrize(("args", "starts"), [
    (["--device", "fpga"], "error: --device: 'fpga' is not valid; allowed: cpu, gpu, tpu"),
    (["--model", "llama-3.1-8"], "error: --model: 'llama-3.1-8' is not valid; not in the "
                                 "catalog; did you mean"),
    (["--model", "deepseek-v3"], "error: --model: 'deepseek-v3' is not valid; a Llama-shaped"),
    (["--out", "/no/such/folder/cal.yaml"], "error: --out: "),
    (["--chip-out", "/no/such/folder/chip.yaml"], "error: --chip-out: "),
    (["--statistic", "mean"], "error: --statistic: 'mean' is not valid; allowed: median, best"),
])
def test_bad_flags_are_one_line(capsys: pytest.CaptureFixture[str], args: list[str],
                                starts: str) -> None:
    line = one_line_error(capsys, "calibrate", "--quick", *args)
    assert line.startswith(starts), line


def test_without_jax_it_says_which_extra(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jax" else real(name, *a))
    line = one_line_error(capsys, "calibrate", "--quick")
    assert line.endswith("calibrate needs the jax extra: pip install 'inferplan[jax]'"), line


def test_a_platform_jax_does_not_see() -> None:
    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs the jax extra")
    done = calibrate("--quick", "--device", "gpu", "--json")
    if done.returncode == 0:
        pytest.skip("this machine has a GPU")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert "jax sees no gpu device here; it has: cpu" in lines[0], lines[0]
