"""docs/serving-llama-3-70b-on-tpu-v5e.md stays true: every command block is rerun and
must print what the doc shows. When the model changes on purpose, refresh the doc with
`.venv/bin/python tools/update_walkthrough.py` and reread the prose around what moved.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tools.walkthrough import (
    DOCS,
    ROOT,
    Block,
    Stale,
    normalise,
    parse_blocks,
    refresh,
    run_block,
)

DOC = DOCS[0]
BLOCKS = parse_blocks(DOC.read_text(encoding="utf-8"))


def test_the_doc_has_command_blocks() -> None:
    kinds = [b.kind for b in BLOCKS]
    assert kinds.count("console") >= 6 and kinds.count("python") >= 3


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}" for b in BLOCKS])
def test_block_output_is_current(block: Block) -> None:
    fresh = run_block(block)
    if fresh != normalise(block.output):
        pytest.fail(Stale(block, fresh).message(DOC)
                    + "\n\nrefresh with: .venv/bin/python tools/update_walkthrough.py",
                    pytrace=False)


def test_scenarios_the_doc_names_exist() -> None:
    for block in BLOCKS:
        for word in block.source.split():
            if word.endswith((".yaml", ".yml")):
                path = word.strip("\"'(),")
                assert (ROOT / path).is_file(), f"{block.label(DOC)}: no file {path}"


# ------------------------------------------------------------- the machinery
SAMPLE = """# t

```console
$ inferplan models --json
old output
```

```python
print("hello")
print("  padded   ")
```

```text
stale
```

```bash
$ inferplan memory   # a bash fence is not run
```
"""


def test_parse_finds_console_and_python_blocks() -> None:
    blocks = parse_blocks(SAMPLE)
    assert [(b.kind, b.source.split("\n")[0]) for b in blocks] == [
        ("console", "inferplan models --json"), ("python", 'print("hello")')]
    assert blocks[0].output == "old output" and blocks[1].output == "stale"


def test_refresh_rewrites_outputs_and_is_idempotent(tmp_path: Path) -> None:
    text, changed = refresh(SAMPLE)
    assert len(changed) == 2
    assert "hello\n  padded\n```" in text and "stale" not in text
    assert '"name": "llama-3.1-70b"' in text
    again, changed_again = refresh(text)
    assert again == text and changed_again == []
    assert "$ inferplan memory   # a bash fence is not run" in again


def test_a_stale_block_is_named() -> None:
    block = parse_blocks(SAMPLE)[1]
    message = Stale(block, normalise(run_block(block))).message(Path(ROOT / "x.md"))
    assert message.startswith("stale block x.md:8 python: print(\"hello\")")
    assert "-stale" in message and "+hello" in message
