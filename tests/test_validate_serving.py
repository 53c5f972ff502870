"""`inferplan validate --serving`: rows of serving_dev.csv mapped to scenarios, scored per
group beside aiconfigurator's predictions of the same rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.sim.run import simulated_means
from inferplan.validate_serving import (
    ServingCase,
    ServingSkip,
    _mape,
    bundled_serving_text,
    map_serving_row,
    read_serving_rows,
    run_serving_validation,
    serving_table,
)

ROWS = read_serving_rows(bundled_serving_text())


def test_mape_worked_number() -> None:
    assert _mape([11.0, 9.0], [10.0, 10.0]) == pytest.approx(0.1)


def test_a_row_becomes_a_closed_loop_scenario() -> None:
    row = next(r for r in ROWS if r["model_path"] == "Qwen/Qwen3-32B" and r["mode"] == "agg"
               and r["backend"] == "sglang" and r["client_protocol"] == "aiperf-fixed?")
    case = map_serving_row(row)
    assert isinstance(case, ServingCase)
    s = case.scenario
    assert s["engine"] == "sglang" and s["model"] == "qwen3-32b"
    assert s["workload"]["concurrency"] == int(row["batch_size"])
    assert s["workload"]["length_ratio"] == 1.0
    assert s["chips"] == int(row["tp_size"]) * int(row["pp_size"])
    assert case.tpot_s == pytest.approx(float(row["silicon_tpot_ms"]) / 1e3)


def test_disaggregated_rows_are_skipped_with_a_reason() -> None:
    row = next(r for r in ROWS if r["mode"] == "disagg")
    skip = map_serving_row(row)
    assert isinstance(skip, ServingSkip) and "disaggregated" in skip.reason


def test_dense_groups_carry_the_peer_on_the_same_rows() -> None:
    rows = [r for r in ROWS if r["model_path"] == "Qwen/Qwen3-32B"]
    cases, _ = run_serving_validation(rows, catalog_model, catalog_chip)
    table = {s.group: s for s in serving_table(cases)}
    dense = table["dense rows"]
    assert dense.rows == len(cases) and dense.peer_rows > 50
    assert dense.peer_tpot_mape is not None and dense.ours_tpot_mape_on_peer is not None
    assert all(c.pred_ttft_s > 0 and c.pred_tpot_s > 0 for c in cases)


def test_cli_json_and_bad_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from inferplan.cli import main
    text = bundled_serving_text().splitlines()
    small = tmp_path / "runs.csv"
    small.write_text("\n".join([text[0], *[t for t in text[1:] if "Qwen/Qwen3-32B" in t][:20]]))
    monkeypatch.setattr(sys, "argv", ["inferplan", "validate", str(small), "--json"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    data = json.loads(capsys.readouterr().out)
    assert data["evaluated"] == 20 and data["groups"][-1]["group"] == "all agg rows"
    bad = tmp_path / "bad.csv"
    bad.write_text("id,silicon_tpot_ms\nx,1\n")
    monkeypatch.setattr(sys, "argv", ["inferplan", "validate", str(bad)])
    with pytest.raises(SystemExit) as code:
        main()
    assert code.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing columns" in err[0]


def test_rows_through_the_simulator_stay_near_the_closed_form() -> None:
    rows = [r for r in ROWS if r["model_path"] == "Qwen/Qwen3-32B" and r["mode"] == "agg"
            and r["backend"] == "sglang" and int(r["batch_size"]) <= 16][:6]
    closed, _ = run_serving_validation(rows, catalog_model, catalog_chip)
    simulated, _ = run_serving_validation(rows, catalog_model, catalog_chip, simulated_means)
    assert len(closed) == len(simulated) == len(rows)
    for a, b in zip(closed, simulated, strict=True):
        assert b.pred_tpot_s == pytest.approx(a.pred_tpot_s, rel=0.05)
        assert b.pred_ttft_s == pytest.approx(a.pred_ttft_s, rel=0.15)
