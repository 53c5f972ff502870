"""docs/disaggregated-serving.md stays true: every command block is rerun with
tools/walkthrough.py and must print what the doc shows (elapsed times aside), and the
figures its prose quotes are checked directly. Refresh after a deliberate model change
with `.venv/bin/python tools/update_walkthrough.py docs/disaggregated-serving.md`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tools.walkthrough import ROOT, Block, Stale, normalise, parse_blocks, run_block

from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.search import parse_space
from inferplan.search.disagg_search import DisaggResult, run_disagg_search

DOC = ROOT / "docs" / "disaggregated-serving.md"
BLOCKS = parse_blocks(DOC.read_text(encoding="utf-8"))


def disagg(name: str, **overrides: object) -> DisaggResult:
    raw = yaml.safe_load(Path(ROOT / "docs" / "disagg" / name).read_text(encoding="utf-8"))
    return run_disagg_search(parse_space({**raw, **overrides}), catalog_model, catalog_chip)


def test_the_doc_has_command_blocks() -> None:
    sources = [b.source for b in BLOCKS if b.kind == "console"]
    assert len(sources) == 2 and all("inferplan disagg" in s for s in sources)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}" for b in BLOCKS])
def test_block_output_is_current(block: Block) -> None:
    fresh = run_block(block)
    if fresh != normalise(block.output):
        pytest.fail(Stale(block, fresh).message(DOC) + "\n\nrefresh with: .venv/bin/python "
                    "tools/update_walkthrough.py docs/disaggregated-serving.md", pytrace=False)


def test_seed_a34_without_prefill_mfu() -> None:
    # "Without prefill_mfu ... P:G is 1.9 and goodput 43.6 tok/s/chip against the
    # co-located 42.8."
    result = disagg("seed-a34.yaml", disaggregated={})
    best = result.pairs[0]
    assert best.prefill_replicas_per_decode_replica == pytest.approx(1.9, abs=0.05)
    assert best.output_tokens_per_s_per_chip == pytest.approx(43.6, abs=0.05)
    assert result.colocated_score() == pytest.approx(42.8, abs=0.05)


def test_h100_fleet_and_gain() -> None:
    result = disagg("llama-3.1-70b-h100-fp8.yaml")
    best = result.pairs[0]
    fleet = result.fleet(best)
    assert (fleet.prefill_replicas, fleet.decode_replicas, fleet.chips) == (8, 1, 12)
    assert result.gain() == pytest.approx(1.95, abs=0.005)
    # the seed's hand-off: 335 MB per chip over 3.125 GB/s of DCN
    a34 = disagg("seed-a34.yaml")
    assert float(a34.prefill.transfer_s[a34.pairs[0].prefill]) == pytest.approx(0.1074,
                                                                             abs=5e-4)
