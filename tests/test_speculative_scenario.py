"""A scenario's `speculative:` block: the draft (a catalog model or the checkpoint's MTP
module), checked on construction, decoded in the closed loop's draft-and-verify cycles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.conftest import cli, make, one_line_error

from inferplan.models import catalog_model, mtp_draft
from inferplan.serving import closed_loop
from inferplan.speculative import cycle_for, draft_deployment
from inferplan.units import InferplanError

DSR1 = {"model": "deepseek-r1", "hardware": "b200", "chips": 8, "parallelism": {"tp": 8},
        "dtypes": {"weights": "fp8", "kv": "fp8", "compute": "fp8"}, "engine": "trtllm",
        "workload": {"input_len": 1024, "output_len": 1024, "concurrency": 4,
                     "length_ratio": 0.8}}


def test_mtp_modules_are_read_from_the_configs() -> None:
    assert catalog_model("deepseek-r1").mtp_layers == 1
    assert catalog_model("qwen3.5-397b-a17b").mtp_layers == 1
    assert catalog_model("minimax-m2.5").mtp_layers == 3       # use_mtp, num_mtp_modules
    assert catalog_model("qwen3-32b").mtp_layers == 0
    draft = mtp_draft(catalog_model("deepseek-r1"))
    assert (draft.num_layers, draft.layer_moe, draft.vocab_size) == (1, (True,), 129280)
    assert mtp_draft(catalog_model("qwen3.5-397b-a17b")).layer_attention == ("full",)
    with pytest.raises(InferplanError, match="no multi-token-prediction"):
        mtp_draft(catalog_model("qwen3-32b"))


def test_speculative_block_decodes_in_cycles() -> None:
    """The deployment's draft, α and γ give the same loop as the search's explicit
    cycle; at four clients it cuts TPOT (E = (1 − 0.875⁴)/0.125 = 3.41 tokens a cycle)."""
    plain, wl = make(**DSR1)
    spec, _ = make(**DSR1, speculative={"draft": "mtp", "gamma": 3, "alpha": 0.875})
    assert spec.speculative is not None and spec.speculative.gamma == 3
    draft = draft_deployment(spec, spec.speculative.draft)
    explicit = closed_loop(plain, wl, 4, cycle_for(plain, draft, 0.875, 3), draft)
    implied = closed_loop(spec, wl, 4)
    np.testing.assert_allclose(implied.tpot_s, explicit.tpot_s, rtol=1e-12)
    np.testing.assert_allclose(implied.ttft_s, explicit.ttft_s, rtol=1e-12)
    assert float(implied.tpot_s) < 0.6 * float(closed_loop(plain, wl, 4).tpot_s)


@pytest.mark.parametrize(("speculative", "field"), [
    ({"draft": "mtp", "gamma": 3, "alpha": 0.875}, "speculative.draft"),    # qwen3-32b: none
    ({"draft": "llama-3.1-8b", "gamma": 3, "alpha": 0.8}, "speculative.draft"),  # vocab
    ({"draft": "qwen3-8b", "gamma": 0, "alpha": 0.8}, "speculative.gamma"),
    ({"draft": "qwen3-8b", "gamma": 3, "alpha": 1.5}, "speculative.alpha"),
])
def test_bad_speculative_blocks_name_the_field(speculative: dict, field: str) -> None:
    with pytest.raises(InferplanError) as exc:
        make(model="qwen3-32b", hardware="h100-sxm", chips=1, speculative=speculative)
    assert exc.value.field.removeprefix("scenario.").startswith(field)


def test_static_batch_refuses_speculative(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("model: deepseek-r1\nhardware: b200\nchips: 8\nparallelism: {tp: 8}\n"
                    "dtypes: {weights: fp8, kv: fp8, compute: fp8}\n"
                    "speculative: {draft: mtp, gamma: 2, alpha: 0.8}\n"
                    "workload: {input_len: 1024, output_len: 64, batch: 4}\n")
    assert "closed loop" in one_line_error(capsys, "estimate", str(path))
    path.write_text(path.read_text().replace("batch: 4", "concurrency: 4"))
    assert cli(capsys, "estimate", str(path))[0] == 0
    assert cli(capsys, "simulate", str(path))[0] == 0


@pytest.mark.parametrize("engine", ["trtllm", "sglang"])
def test_the_simulator_runs_cycles_the_closed_form_agrees(engine: str) -> None:
    """Each decoding sequence's cycle emits its accepted drafts + 1 (seeded draws of α);
    at steady state (40·C requests) TPOT within 5% and TTFT within 15% of the closed form,
    the bar of the plain loop; the same seed gives the same run."""
    from dataclasses import replace

    from inferplan.sim import simulate_replica, summarise_run
    fields = {**DSR1, "engine": engine,
              "workload": {**DSR1["workload"], "concurrency": 16}}   # type: ignore[dict-item]
    dep, wl = make(**fields, speculative={"draft": "mtp", "gamma": 3, "alpha": 0.85})
    wl = replace(wl, requests=640)
    run = simulate_replica(dep, wl, 16)
    s = summarise_run(run)
    loop = closed_loop(dep, wl, 16)
    assert s.tpot_s.mean == pytest.approx(float(loop.tpot_s), rel=0.05)
    assert s.ttft_s.mean == pytest.approx(float(loop.ttft_s), rel=0.15)
    again = simulate_replica(dep, wl, 16)
    np.testing.assert_array_equal(run.finished_s, again.finished_s)
    plain, _ = make(**fields)
    assert summarise_run(simulate_replica(plain, wl, 16)).tpot_s.mean > 1.5 * s.tpot_s.mean
