"""Refresh the CPU calibration table in docs/calibration.md from the recorded run.

    .venv/bin/python tools/update_calibration_doc.py           # rewrite the doc in place
    .venv/bin/python tools/update_calibration_doc.py --check   # exit 1 if it is stale

The ```text block after the `<!-- calibration table -->` marker is `inferplan
calibrate`'s table of docs/calibration/cpu-2core.yaml (render_calibration of the file's
record, 110 columns). Record a new run with `.venv/bin/python
benchmarks/bench_calibrate.py --out docs/calibration/cpu-2core.yaml --chip-out
docs/calibration/host-cpu.yaml`, then run this and reread the prose around the table.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import yaml
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from inferplan.report.calibration_table import render_calibration  # noqa: E402

DOC = ROOT / "docs" / "calibration.md"
RECORD = ROOT / "docs" / "calibration" / "cpu-2core.yaml"
MARKER = "<!-- calibration table -->"
WIDTH = 110


def table_text(record_path: Path = RECORD) -> str:
    """The table the command prints for the recorded run, without trailing spaces."""
    buffer = io.StringIO()
    record = yaml.safe_load(record_path.read_text(encoding="utf-8"))
    render_calibration(record, Console(file=buffer, width=WIDTH, color_system=None,
                                       force_terminal=False))
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip().splitlines())


def doc_table(text: str) -> tuple[int, int]:
    """(first, end) line indices of the text block after the marker."""
    lines = text.splitlines()
    start = lines.index(MARKER) + 1
    if lines[start] != "```text":
        raise ValueError(f"{DOC.name}: a ```text block must follow {MARKER}")
    end = lines.index("```", start + 1)
    return start + 1, end


def refreshed(text: str) -> str:
    lines = text.splitlines()
    first, end = doc_table(text)
    return "\n".join([*lines[:first], table_text(), *lines[end:]]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report a stale table")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    new = refreshed(text)
    if new == text:
        return 0
    if args.check:
        print(f"{DOC.relative_to(ROOT)}: the calibration table is stale")
        return 1
    DOC.write_text(new, encoding="utf-8")
    print(f"refreshed {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
