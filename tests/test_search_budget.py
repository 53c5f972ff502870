"""Huge spaces (issue 13): a space above `budget.ANNOUNCE_POINTS` says its size and an
estimated time on stderr before it runs and shows a progress bar on a terminal; a space
whose results cannot fit in the memory free now is refused (exit 2, one line) before
anything is evaluated. The threshold and the free memory are monkeypatched small: no
huge space runs here."""

from __future__ import annotations

import io
import re
import tracemalloc
from typing import Any

import pytest
from rich.console import Console
from tests.conftest import cli, one_line_error
from tests.test_no_network import EXAMPLES

import inferplan
from inferplan.cli.actions import search as search_action
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.search import budget, parse_space, run_search
from inferplan.search.space import count_points
from inferplan.units import InferplanError

SPACE = str(EXAMPLES / "search" / "h100.yaml")
#: examples/search/h100.yaml: 4 tp × 4 pp × 2 weights × 2 KV dtypes × 512 concurrencies.
SPACE_POINTS = 4 * 4 * 2 * 2 * 512


def test_space_size_of_the_example() -> None:
    from inferplan.cli.files import read_mapping
    size = budget.space_size(parse_space(read_mapping(SPACE, "space")))
    assert size.points == SPACE_POINTS == 32_768
    assert size.estimated_s == pytest.approx(32_768 / budget.POINTS_PER_S)
    assert size.result_bytes == 32_768 * budget.BYTES_PER_POINT
    assert not size.large


def test_a_large_space_announces_its_size_and_time_first(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, quiet, err = cli(capsys, "search", SPACE, "--json")
    assert code == 0 and err == ""
    monkeypatch.setattr(budget, "ANNOUNCE_POINTS", 10_000)
    code, out, err = cli(capsys, "search", SPACE, "--json")
    assert code == 0 and out == quiet                  # stdout untouched
    lines = err.splitlines()
    assert len(lines) == 1, lines                      # not a terminal: no bar drawn
    seconds = 32_768 / budget.POINTS_PER_S
    assert lines[0] == (f"search: 32,768 points; about {seconds:.0f} s to evaluate (at "
                        f"{budget.POINTS_PER_S:,} points/s), about "
                        f"{32_768 * budget.BYTES_PER_POINT / 2**30:.2f} GiB for the results")
    code, _, err = cli(capsys, "disagg", SPACE, "--json")
    assert code == 0 and err.startswith("search: 32,768 points; about ")


@pytest.mark.parametrize("command", ["search", "recommend", "frontier", "disagg"])
def test_a_space_that_cannot_fit_in_memory_is_refused_before_it_runs(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: str) -> None:
    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("evaluated a space it should have refused")

    monkeypatch.setattr(budget, "available_memory_bytes", lambda: 1_000_000)
    monkeypatch.setattr(search_action, "run_search", must_not_run)
    monkeypatch.setattr("inferplan.cli.actions.disagg.run_disagg_search", must_not_run)
    extra = ["--target-tokens-per-s", "1000"] if command == "recommend" else []
    line = one_line_error(capsys, command, SPACE, *extra)
    assert line == ("error: space: '32,768 points' is not valid; its results need about 0.01 GiB "
                           f"({budget.BYTES_PER_POINT} B per point), more than the 0.00 GiB "
                           "of memory free; narrow a range or a list"), line


def test_the_python_api_is_refused_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "available_memory_bytes", lambda: 1_000_000)
    with pytest.raises(InferplanError, match="memory free"):
        inferplan.search(SPACE)
    monkeypatch.setattr(budget, "available_memory_bytes", lambda: None)   # not reported
    assert inferplan.search(SPACE, top=1).result.evaluated == SPACE_POINTS


def test_free_memory_is_read_from_the_system() -> None:
    free = budget.available_memory_bytes()
    assert free is None or free > 0


def test_the_progress_bar_follows_the_points() -> None:
    """On a terminal the bar is drawn and reaches every point; elsewhere it draws nothing."""
    from inferplan.cli.files import read_mapping
    space = parse_space(read_mapping(SPACE, "space"))
    seen: list[tuple[int, int]] = []
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with search_action.progress_bar("evaluating", console) as advance:
        def record(done_points: int, total_points: int) -> None:
            seen.append((done_points, total_points))
            advance(done_points, total_points)
        result = run_search(space, catalog_model, catalog_chip, record)
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1] == (result.evaluated, result.evaluated)
    assert len(seen) == len(result.groups) + 1
    assert "evaluating" in screen.getvalue() and "points" in screen.getvalue()
    plain = io.StringIO()
    with search_action.progress_bar("evaluating", Console(file=plain)) as advance:
        advance(1, 2)
    assert plain.getvalue() == ""


def test_bytes_per_point_bounds_the_measured_peak() -> None:
    """`BYTES_PER_POINT` holds: the traced peak of a 128,000-point search, every point
    fitting (so every column is filled and ranked), stays under it."""
    raw = {"model": "qwen3-8b", "hardware": "h100-sxm", "chips": 8,
           "parallelism": {"tp": [1, 2, 4, 8], "dp": "auto"},
           "dtypes": {"weights": ["bf16", "fp8"], "kv": ["bf16", "fp8"]},
           "workload": {"input_len": [16 * k for k in range(1, 9)], "output_len": 8,
                        "batch": {"min": 1, "max": 1000}}}
    space = parse_space(raw)
    run_search(parse_space({**raw, "workload": {**raw["workload"], "batch": 1}}),
               catalog_model, catalog_chip)                         # catalogs loaded
    tracemalloc.start()
    try:
        result = run_search(space, catalog_model, catalog_chip)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    points = count_points(space)
    assert points == result.evaluated == 128_000 and result.feasible > 0.9 * points
    assert peak_bytes < points * budget.BYTES_PER_POINT, peak_bytes / points


def test_announcement_reads_as_one_line() -> None:
    line = budget.SpaceSize(3_000_000).announcement()
    assert re.fullmatch(r"search: 3,000,000 points; about 6 s to evaluate \(at 500,000 "
                        r"points/s\), about 0\.67 GiB for the results", line), line
