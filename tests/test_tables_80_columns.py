"""The tables of `estimate`, `search`, `frontier` and `simulate` stay readable in an
80-column terminal (issue 14): rendered at COLUMNS=80, no header and no cell is cut
short with "…", and no line is wider than 80 columns.

Rich shrinks a table that does not fit by wrapping cells at spaces and, where a word
is wider than its column, cutting it with an ellipsis (`end-to-e…`, `compu…`). The
renderers avoid it with short single-word headers, a step-time table with a row per
term instead of a column per term, and latency cells stacked over three lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import cli

ROOT = Path(__file__).resolve().parents[1]
SPACE = ROOT / "examples" / "search" / "h100.yaml"

COMMANDS: dict[str, list[str]] = {
    "estimate static batch": ["estimate", str(ROOT / "docs/walkthrough/int8-4x2-bs32.yaml")],
    "estimate default": ["estimate"],
    "estimate closed loop": ["estimate", str(ROOT / "examples/python-api/closed-loop.yaml")],
    "search with re-simulation": ["search", str(SPACE), "--top", "3", "--simulate-top", "2"],
    "simulate closed loop": ["simulate", str(ROOT / "examples/python-api/closed-loop.yaml")],
    "simulate disaggregated": ["simulate", str(ROOT / "docs/disagg/qwen3-32b-sim.yaml")],
    "frontier": ["frontier", str(SPACE)],
}


def at_80_columns(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                  *args: str) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "JUPYTER_COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = cli(capsys, *args)
    assert code == 0, err[-2000:]
    return out


def assert_readable(out: str) -> None:
    headers = [line for line in out.splitlines() if line.startswith("┃")]
    assert headers, out[:2000]
    cut = [line for line in headers if "…" in line]
    assert not cut, "headers cut short at 80 columns:\n" + "\n".join(cut)
    assert "…" not in out, out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80
    # a table wider than the terminal is cropped at column 80: its right border is lost
    rows = [line.rstrip() for line in out.splitlines() if line[:1] in "┏┃┡│└├"]
    cropped = [line for line in rows if line[-1:] not in "┓┃┩│┘┤"]
    assert not cropped, "tables cropped at 80 columns:\n" + "\n".join(cropped)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_tables_fit_80_columns(name: str, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = at_80_columns(capsys, monkeypatch, *COMMANDS[name])
    assert_readable(out)
    if name.startswith("estimate"):
        for header in ("TTFT", "TPOT", "tok/s/chip", "communication", "overhead"):
            assert header in out


@pytest.mark.parametrize("objective", ["min_chips", "throughput_per_usd", "min_tpot"])
def test_search_tables_fit_80_columns_for_every_objective(
        objective: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An objective no other column shows gets a column of its own (`chips`); the
    others rank by a column the table has (TPOT; $/M tok for tokens per USD)."""
    space = yaml.safe_load(SPACE.read_text(encoding="utf-8"))
    space["objective"] = objective
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space), encoding="utf-8")
    out = at_80_columns(capsys, monkeypatch, "search", str(path), "--top", "3")
    assert_readable(out)
    top = out.split("best 3 by", 1)[1].split("\n", 3)[2]
    assert ("chips ┃" in top) == (objective == "min_chips"), top
