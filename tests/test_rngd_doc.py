"""docs/rngd-llama-3.1-8b-tp-vs-dp.md stays true: every command block is rerun with
tools/walkthrough.py and must print what the doc shows, and the conclusions its prose
draws are checked directly. Refresh the outputs after a deliberate model change with
`.venv/bin/python tools/update_walkthrough.py docs/rngd-llama-3.1-8b-tp-vs-dp.md`.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from tools.walkthrough import ROOT, Block, Stale, normalise, parse_blocks, run_block

from inferplan.cli.loader import load_scenario
from inferplan.memory import max_batch
from inferplan.models import catalog_model
from inferplan.serving import estimate
from inferplan.speculative import speculative_result

DOC = ROOT / "docs" / "rngd-llama-3.1-8b-tp-vs-dp.md"
BLOCKS = parse_blocks(DOC.read_text(encoding="utf-8"))
LAYOUTS = ("tp8", "tp4-dp2", "tp2-dp4", "tp1-dp8")


def test_the_doc_has_command_blocks() -> None:
    kinds = [b.kind for b in BLOCKS]
    assert kinds.count("console") >= 4 and kinds.count("python") >= 4
    sources = " ".join(b.source for b in BLOCKS)
    assert "inferplan speculative" in sources and "inferplan estimate" in sources


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}" for b in BLOCKS])
def test_block_output_is_current(block: Block) -> None:
    fresh = run_block(block)
    if fresh != normalise(block.output):
        pytest.fail(Stale(block, fresh).message(DOC) + "\n\nrefresh with: .venv/bin/python "
                    "tools/update_walkthrough.py docs/rngd-llama-3.1-8b-tp-vs-dp.md",
                    pytrace=False)


def test_scenario_files_load_and_fill_the_chip() -> None:
    paths = sorted(p for p in (ROOT / "docs" / "rngd").glob("*.yaml")
                   if not p.name.startswith("space-"))     # search spaces are not scenarios
    assert len(paths) == 8
    for path in paths:
        dep, wl = load_scenario(str(path))
        assert dep.chip.name == "rngd" and dep.layout.devices == 8
        assert wl.input_len == 1024 and wl.output_len == 256 and wl.concurrency == 32


def scenario(name: str, fp8: bool = False):  # type: ignore[no-untyped-def]
    return load_scenario(str(ROOT / "docs" / "rngd" / f"{name}{'-fp8' if fp8 else ''}.yaml"))


# ------------------------------------------------- the prose's conclusions
def test_8b_does_not_fit_in_one_or_two_pes_in_bf16_nor_one_in_fp8() -> None:
    assert max_batch(*scenario("tp1-dp8")) == 0 and max_batch(*scenario("tp2-dp4")) == 0
    assert max_batch(*scenario("tp1-dp8", fp8=True)) == 0
    assert max_batch(*scenario("tp2-dp4", fp8=True)) > 0
    assert 0 < max_batch(*scenario("tp4-dp2")) < 32 < max_batch(*scenario("tp8"))


@pytest.mark.parametrize("fp8", [False, True])
def test_tp8_wins_at_equal_load_and_at_the_largest_batch(fp8: bool) -> None:
    tpots, largest = [], []
    for name in LAYOUTS:
        dep, wl = scenario(name, fp8)
        dp = dep.layout.dp
        equal = estimate(dep, replace(wl, concurrency=32 // dp))
        if equal.fits:
            tpots.append(equal.tpot_s)
        most = estimate(dep, replace(wl, concurrency=None, batch="max"))
        if most.memory.max_batch >= 1:
            largest.append(most.output_tokens_per_s)
    assert tpots == sorted(tpots) and len(tpots) >= 2
    assert largest == sorted(largest, reverse=True) and len(largest) >= 2


def test_dp_wins_only_when_the_bucket_caps_the_replica() -> None:
    tp8, tp4 = estimate(*scenario("tp8", True)), estimate(*scenario("tp4-dp2", True))
    assert tp4.fits and tp4.output_tokens_per_s > tp8.output_tokens_per_s
    assert tp4.tpot_s > 1.5 * tp8.tpot_s


def test_speculation_helps_every_layout_at_alpha_07() -> None:
    draft = catalog_model("llama-3.2-1b")
    for name in LAYOUTS:
        dep, wl = scenario(name)
        r = speculative_result(dep, draft, wl, 0.7)
        assert 1.2 < float(r.chosen.speedup) < 1.5 and int(r.chosen.gamma) == 2


# ------------------------------------------------ core fusion (section 1)
def test_core_fusion_is_free_by_default_and_scales_fused_groups_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import copy

    from inferplan import efficiency

    table = efficiency.efficiency_table()
    assert table["core_fusion"]["default"] == 1.0 and table["core_fusion"]["default_source"]
    tp8, _ = scenario("tp8")
    tp1, _ = scenario("tp1-dp8")
    base8, base1 = efficiency.efficiency_for(tp8), efficiency.efficiency_for(tp1)
    assert efficiency.core_fusion_fraction(tp8, table) == 1.0

    changed = copy.deepcopy(table)
    changed["core_fusion"]["rngd"] = {8: 0.5, 4: 0.8}
    monkeypatch.setattr(efficiency, "efficiency_table", lambda: changed)
    assert efficiency.core_fusion_fraction(tp8, changed) == 0.5
    assert efficiency.core_fusion_fraction(scenario("tp4-dp2")[0], changed) == 0.8
    assert efficiency.core_fusion_fraction(scenario("tp2-dp4")[0], changed) == 1.0
    slow8, same1 = efficiency.efficiency_for(tp8), efficiency.efficiency_for(tp1)
    assert slow8.memory_bytes_per_s == pytest.approx(0.5 * base8.memory_bytes_per_s)
    assert slow8.matmul_flops_per_s == pytest.approx(0.5 * base8.matmul_flops_per_s)
    assert same1 == base1


def test_frontier_with_and_without_the_draft() -> None:
    """§4's search: every frontier point is TP=8; the draft wins up to 64 sequences, plain
    decoding beyond (128 static, then the 151 in flight); the largest batch beside the
    draft (109) is in flight and dominated."""
    import yaml

    from inferplan.hardware import catalog_chip
    from inferplan.search import parse_space, run_search
    from inferplan.search.frontier import frontiers

    raw = yaml.safe_load((ROOT / "docs" / "rngd" / "space-speculative.yaml").read_text())
    result = run_search(parse_space(raw), catalog_model, catalog_chip)
    (front,) = frontiers(result)
    assert all(result.deployment(p.index).layout.tp == 8 for p in front.points)
    drafts = [result.group(p.index).speculative is not None for p in front.points]
    k = drafts.index(False)
    assert all(drafts[:k]) and not any(drafts[k:])         # speculative first, then plain
    assert max(int(result.batch[p.index]) for p in front.points[:k]) == 64
    assert [int(result.batch[p.index]) for p in front.points[k:]] == [128, 151]
    assert int(result.gamma[front.points[0].index]) == 2
    assert int(result.gamma[front.points[k - 1].index]) == 1
