"""Speculative decoding as a dimension of the search space: every speculative point is
`inferplan speculative`'s figures at its batch, plain points are unchanged, and a draft
that cannot use the target's layout is a drop reason."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from inferplan.cli import app
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.search import SearchResult, parse_space, run_search
from inferplan.search.frontier import frontiers
from inferplan.search.objectives import REASONS
from inferplan.search.space import count_points
from inferplan.search.vectorised import static_prefill_s
from inferplan.serving import closed_loop
from inferplan.speculative import (
    cycle_for,
    draft_deployment,
    max_batch_with_draft,
    speculative_memory,
    speculative_result,
)
from inferplan.steptime import step_cost
from inferplan.units import InferplanError

RNGD: dict[str, Any] = {
    "model": "llama-3.1-8b", "hardware": "rngd", "chips": 1,
    "parallelism": {"tp": [4, 8], "dp": "auto"},
    "dtypes": {"weights": "bf16", "kv": "bf16"},
    "workload": {"input_len": 1024, "output_len": 256, "batch": [1, 4, 16, 64, 160, "max"]},
    "speculative": {"draft": "llama-3.2-1b", "alpha": [0.6, 0.8]},
}


def search(**fields: Any) -> SearchResult:
    return run_search(parse_space({**RNGD, **fields}), catalog_model, catalog_chip)


def spec_points(result: SearchResult) -> list[int]:
    return [i for i in range(result.batch.size) if result.group(i).speculative is not None]


def test_points_are_inferplan_speculative_at_their_batch() -> None:
    result = search()
    points = spec_points(result)
    assert len(points) == 2 * 2 * 6              # layouts × alphas × batches
    for i in points:
        g = result.group(i)
        spec, dep = g.speculative, result.deployment(i)
        assert spec is not None
        B = int(result.batch[i])
        draft = draft_deployment(dep, spec.draft)
        mem = speculative_memory(dep, draft, g.workload, B, int(result.gamma[i]))
        assert (result.status[i] == REASONS.index("memory")) == (not mem.fits)
        if g.mode == "max":
            assert max(max_batch_with_draft(dep, draft, g.workload, spec.gamma_max), 1) == B
        if not mem.fits:
            assert np.isnan(result.cols.tpot_s[i])
            continue
        ref = speculative_result(dep, spec.draft, replace(g.workload, batch=B), spec.alpha)
        assert int(result.gamma[i]) == int(ref.chosen.gamma)
        # the report's record of the point is the same γ choice
        again = result.speculative(i)
        assert again is not None and int(again.chosen.gamma) == int(result.gamma[i])
        if g.mode == "max":
            # served in flight, as a plain `batch: max` point is: the closed loop of B
            # clients with draft-and-verify cycles
            loop = closed_loop(dep, replace(g.workload, batch=None, concurrency=B), B,
                               cycle_for(dep, draft, spec.alpha, spec.gamma, spec.gamma_max),
                               draft)
            assert result.cols.tpot_s[i] == pytest.approx(float(loop.tpot_s), rel=1e-12)
            assert result.cols.ttft_s[i] == pytest.approx(float(loop.ttft_s), rel=1e-12)
            plain_prefill = float(step_cost(dep, "prefill", 1, 1024, 0).latency_s)
            assert result.cols.ttft_s[i] >= plain_prefill
            continue
        assert result.cols.tpot_s[i] == pytest.approx(float(ref.chosen.tpot_s), rel=1e-12)
        ttft = static_prefill_s(dep, g.workload, B) + static_prefill_s(draft, g.workload, B)
        assert result.cols.ttft_s[i] == pytest.approx(float(ttft), rel=1e-12)
        assert result.cols.e2e_latency_s[i] == pytest.approx(
            float(ttft) + 255 * float(ref.chosen.tpot_s), rel=1e-12)


def test_plain_points_are_unchanged_and_counted() -> None:
    with_spec = search()
    plain = run_search(parse_space({k: v for k, v in RNGD.items() if k != "speculative"}),
                       catalog_model, catalog_chip)
    rows = [i for i in range(with_spec.batch.size) if with_spec.group(i).speculative is None]
    assert len(rows) == plain.batch.size
    np.testing.assert_allclose(with_spec.cols.tpot_s[rows], plain.cols.tpot_s, rtol=1e-12)
    assert np.all(with_spec.gamma[rows] == 0)
    assert with_spec.evaluated == count_points(with_spec.space) == 3 * plain.evaluated
    no_plain = search(speculative={**RNGD["speculative"], "plain": False})
    assert all(no_plain.group(i).speculative is not None for i in range(no_plain.batch.size))


def test_speculation_wins_latency_only_when_drafts_are_accepted() -> None:
    fast = search(objective="min_tpot")
    best = fast.best(1)[0]
    assert fast.scenario(best)["speculative"]["alpha"] == 0.8
    assert fast.scenario(best)["speculative"]["gamma"] == int(fast.gamma[best]) >= 1
    # α = 0: every draft is rejected, a cycle emits one token at more than a decode step
    hopeless = search(objective="min_tpot",
                      speculative={"draft": "llama-3.2-1b", "alpha": 0.0})
    assert "speculative" not in hopeless.scenario(hopeless.best(1)[0])


def test_given_gamma_list_is_an_axis() -> None:
    result = search(speculative={"draft": "llama-3.2-1b", "alpha": 0.8, "gamma": [1, 3]},
                    workload={"input_len": 1024, "output_len": 256, "batch": [1, 8]})
    gammas = {int(result.gamma[i]) for i in spec_points(result)}
    assert gammas == {1, 3}
    assert "gamma" in result.varied_axes


def test_draft_that_cannot_use_the_layout_is_dropped_with_a_reason() -> None:
    # llama-3.2-3b has 24 heads: tp=16 divides the target's 32 but not the draft's 24
    result = run_search(parse_space({
        "model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 16,
        "parallelism": {"tp": [8, 16], "dp": "auto"},
        "workload": {"input_len": 1024, "output_len": 128, "batch": [1, 8]},
        "speculative": {"draft": "llama-3.2-3b", "alpha": 0.7}}), catalog_model, catalog_chip)
    assert result.dropped.get("draft") == 2                   # tp16 with the draft, 2 batches
    assert "24" in result.drop_examples["draft"]
    assert any(result.group(i).speculative is not None for i in result.order)


def test_frontier_split_of_speculative_points_sums_to_tpot() -> None:
    result = search()
    for f in frontiers(result):
        for p in f.points:
            assert sum(p.decode_split_s.values()) == pytest.approx(p.tpot_s, rel=1e-9)
        assert any(result.group(p.index).speculative is not None for p in f.points)


@pytest.mark.parametrize(("change", "field"), [
    ({"speculative": {"draft": "llama-3.2-1b", "alpha": 1.5}}, "speculative.alpha"),
    ({"speculative": {"draft": "nope-model", "alpha": 0.5}}, "speculative.draft"),
    ({"speculative": {"draft": "llama-3.2-1b", "alpha": 0.5, "gamma": [0]}},
     "speculative.gamma"),
])
def test_bad_speculative_fields(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InferplanError) as err:
        search(**change)
    assert field in err.value.field


def test_speculative_concurrency_points_are_closed_loops() -> None:
    """A speculative space may give concurrency: its points are closed loops with
    draft-and-verify cycles, and at α = 0 (no draft token accepted) the draft only costs."""
    result = search(workload={"input_len": 1024, "output_len": 256, "concurrency": [1, 8, 32]})
    spec_idx = [i for i in range(result.point_group.size)
                if result.group(i).speculative is not None
                and np.isfinite(result.cols.tpot_s[i])]
    assert spec_idx
    for i in spec_idx:
        g, dep = result.group(i), result.deployment(i)
        assert g.speculative is not None and g.mode == "concurrency"
        draft = draft_deployment(dep, g.speculative.draft)
        C = int(result.batch[i])
        loop = closed_loop(dep, result.workload(i), C, cycle_for(
            dep, draft, g.speculative.alpha, g.speculative.gamma, g.speculative.gamma_max),
            draft)
        assert result.cols.tpot_s[i] == pytest.approx(float(loop.tpot_s), rel=1e-12)
    dep = result.deployment(spec_idx[0])
    spec = result.group(spec_idx[0]).speculative
    assert spec is not None
    draft = draft_deployment(dep, spec.draft)
    wl = result.workload(spec_idx[0])
    plain = closed_loop(dep, wl, 8)
    useless = closed_loop(dep, wl, 8, cycle_for(dep, draft, 0.0, 1), draft)
    assert float(useless.tpot_s) > float(plain.tpot_s)


def test_cli_search_reports_the_speculative_winner(tmp_path: Path) -> None:
    path = tmp_path / "space.json"
    path.write_text(json.dumps({**RNGD, "objective": "min_tpot"}))
    runner = CliRunner()
    out = runner.invoke(app, ["search", str(path), "--json", "--top", "2"])
    assert out.exit_code == 0, out.output
    best = json.loads(out.output)["best"][0]
    assert best["speculative"]["draft"] == "llama-3.2-1b"
    assert best["search"]["tpot_s"] == pytest.approx(best["speculative"]["speculative"]["tpot_s"])
    text = runner.invoke(app, ["search", str(path)])
    assert text.exit_code == 0, text.output
    assert "decodes speculatively" in text.output
