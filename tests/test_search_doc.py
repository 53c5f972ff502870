"""docs/search.md's section on engines in a space stays true: its command block is rerun
with tools/walkthrough.py and must print what the doc shows (elapsed times aside), and
what its prose says of the three engines is checked on the search itself. Refresh after
a deliberate model change with `.venv/bin/python tools/update_walkthrough.py
docs/search.md`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tools.walkthrough import ROOT, Block, Stale, normalise, parse_blocks, run_block

from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.search import parse_space, run_search
from inferplan.search.frontier import frontiers

DOC = ROOT / "docs" / "search.md"
BLOCKS = parse_blocks(DOC.read_text(encoding="utf-8"))
SPACE = ROOT / "docs" / "search" / "qwen3-32b-engines.yaml"


def test_the_doc_has_command_blocks() -> None:
    sources = [b.source for b in BLOCKS if b.kind == "console"]
    assert sources == ["inferplan frontier docs/search/qwen3-32b-engines.yaml"]


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}" for b in BLOCKS])
def test_block_output_is_current(block: Block) -> None:
    fresh = run_block(block)
    if fresh != normalise(block.output):
        pytest.fail(Stale(block, fresh).message(DOC) + "\n\nrefresh with: .venv/bin/python "
                    "tools/update_walkthrough.py docs/search.md", pytrace=False)


def test_what_the_prose_says_of_the_engines() -> None:
    # "TensorRT-LLM holds both ends of the frontier: the lowest TTFT at every layout and
    # load ... SGLang's prompt-only steps give the lowest TPOT from 64 clients up, ... from
    # 32 clients up its TTFT is the highest at the same layout; it reaches the frontier once"
    raw = yaml.safe_load(Path(SPACE).read_text(encoding="utf-8"))
    result = run_search(parse_space(raw), catalog_model, catalog_chip)
    (front,) = frontiers(result)
    engines = [result.scenario(p.index)["engine"] for p in front.points]
    assert engines[0] == "trtllm" and engines[-1] == "trtllm"
    assert engines.count("sglang") == 1
    timed: dict[tuple[int, int], dict[str, tuple[float, float]]] = {}
    for i in range(result.point_group.size):
        s = result.scenario(i)
        ttft = float(result.cols.ttft_s[i])
        if ttft == ttft:
            key = (s["parallelism"]["tp"], s["workload"]["concurrency"])
            timed.setdefault(key, {})[s["engine"]] = (ttft, float(result.cols.tpot_s[i]))
    assert len(timed) == 12
    for (_, clients), by_engine in timed.items():
        ttfts = {e: v[0] for e, v in by_engine.items()}
        tpots = {e: v[1] for e, v in by_engine.items()}
        assert ttfts["trtllm"] == min(ttfts.values())
        assert (ttfts["sglang"] == max(ttfts.values())) == (clients >= 32)
        if clients >= 64:
            assert tpots["sglang"] == min(tpots.values())
        if clients == 8:
            assert max(tpots.values()) < 1.05 * min(tpots.values())
