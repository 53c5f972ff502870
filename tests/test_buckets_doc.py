"""docs/buckets.md stays true: every ```console block (`$ inferplan buckets ...`) and every
```python block with its ```text output is rerun and must print what the doc shows (120
columns, no colour; tools/walkthrough.py). When the bucket or cost model changes on
purpose, refresh the doc with `.venv/bin/python tools/update_buckets_doc.py` and reread
the prose around what moved: the figures it quotes come from these blocks.
"""

from __future__ import annotations

import re

import pytest
from tools.walkthrough import ROOT, Block, Stale, normalise, parse_blocks, run_block

DOC = ROOT / "docs" / "buckets.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = parse_blocks(TEXT)
REFRESH = ".venv/bin/python tools/update_buckets_doc.py"


def test_the_doc_has_command_blocks() -> None:
    sources = [b.source for b in BLOCKS if b.kind == "console"]
    assert "inferplan buckets examples/buckets/seed000.yaml" in sources
    assert any("--objective time --split free" in s for s in sources)
    assert sum(b.kind == "python" for b in BLOCKS) >= 2


def test_no_unchecked_output_blocks() -> None:
    """Pasted output belongs in a checked block: every fence other than the runnable ones
    (and the ```text after a ```python) is free of rich tables."""
    checked = {b.start for b in BLOCKS}
    lines = TEXT.split("\n")
    fence, bare = None, []
    for i, line in enumerate(lines):
        if fence is None and line.startswith("```"):
            fence = i
        elif fence is not None and line.rstrip() == "```":
            body = lines[fence + 1:i]
            if fence + 1 not in checked and fence + 2 not in checked and any(
                    c in "".join(body) for c in "┏┃│"):
                bare.append(f"line {fence + 1}: {lines[fence]}")
            fence = None
    assert not bare, f"{DOC.name}: output pasted outside a checked block: {bare}"


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}" for b in BLOCKS])
def test_block_output_is_current(block: Block) -> None:
    fresh = run_block(block)
    if fresh != normalise(block.output):
        pytest.fail(Stale(block, fresh).message(DOC) + f"\n\nrefresh with: {REFRESH}",
                    pytrace=False)


def test_files_the_doc_names_exist() -> None:
    for block in BLOCKS:
        for path in re.findall(r"[\w./-]+\.ya?ml", block.source):
            assert (ROOT / path).is_file(), f"{block.label(DOC)}: no file {path}"


#: Figures the prose quotes -> what a block prints for them. When a refresh moves a
#: figure, this names the sentence to rewrite (the refresh tool leaves prose alone).
QUOTED = [
    ("1.78 s of prefill per 'chat' request where 614 ms would do", "1.78 s (614 ms)"),
    ("27.5 ms per decode token where 25.3 ms", "27.5 ms (25.3 ms)"),
    ("16.9 % of the step time is padding (1.96 s a request)", "1.96 s (16.9%)"),
    ("1.25e9 of 1.56e10 FLOP per token", "1.25e+09"),
    ("moves 13\n('chat') or 17", "18+8/12"),
    ("moves 13\n('chat') or 17", "14+16/8"),
    ("halves the chunk to 2,048 tokens", "14+16/8"),
    ("moves three ('chat') or five", "8+8/22"),
    ("moves three ('chat') or five", "10+8/20"),
    ("picks the same set as the FLOP\nobjective on seed 000, for both distributions",
     "split keep picks the same buckets as flops, split keep: True"),
    ("370 padded tokens per request", "370 (44%)"),
    ("192 for the best multiples of 16", "192 (23%)"),
    ("3.42 padded slots per step", "3.42 (2.7%)"),
    ("2.01 for the best 51", "2.01 (1.6%)"),
]


@pytest.mark.parametrize(("prose", "printed"), QUOTED)
def test_prose_figures_match_the_outputs(prose: str, printed: str) -> None:
    outputs = "\n".join(b.output for b in BLOCKS)
    assert prose in TEXT, f"{DOC.name}: the prose no longer says {prose!r}; update QUOTED"
    assert printed in outputs, (
        f"{DOC.name}: the prose says {prose!r}, but no block prints {printed!r} any more: "
        "rewrite the sentence from the refreshed outputs")
