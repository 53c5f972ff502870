"""Determinism (issue 13): the same input prints byte-identical JSON. Wall-clock times are
left out of every `--json` unless `--timings` asks for them (`search`, `disagg`: their
terminal tables still show the elapsed time)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import cli
from tests.test_no_network import EXAMPLES, TMP, resolve

SPACE = str(EXAMPLES / "search" / "h100.yaml")
#: Words a key of a wall-clock figure would hold (a simulated run's `duration_s` is
#: simulated time, the same on every run: not one of them).
CLOCK_WORDS = ("elapsed", "wall", "timestamp", "runtime")


def json_commands() -> dict[str, list[str]]:
    """Every command that prints `--json`, on the bundled examples (`TMP`: the test's
    scratch folder)."""
    return {
        "estimate default": ["estimate", "--json"],
        "estimate example": ["estimate", str(EXAMPLES / "python-api" / "closed-loop.yaml"),
                             "--json"],
        "search": ["search", SPACE, "--json"],
        "search simulated": ["search", SPACE, "--simulate-top", "1", "--top", "2", "--json"],
        "recommend": ["recommend", SPACE, "--target-tokens-per-s", "10000", "--json"],
        "frontier": ["frontier", SPACE, "--json"],
        "disagg": ["disagg", SPACE, "--json"],
        "simulate": ["simulate", str(EXAMPLES / "sim" / "qwen3-32b-dp4-skewed.yaml"),
                     "--json"],
        "validate": ["validate", "--json"],
        "validate serving subset": ["validate", f"{TMP}/serving_subset.csv", "--json"],
        "memory": ["memory", "--json"],
        "buckets": ["buckets", str(EXAMPLES / "buckets" / "seed000.yaml"), "--json"],
        "export": ["export", str(EXAMPLES / "export" / "llama-3.1-70b-h100-vllm.yaml"),
                   "--json"],
        "speculative": ["speculative", "--draft", "llama-3.2-1b", "--alpha", "0.7", "--json"],
        "models": ["models", "--json"],
        "hardware": ["hardware", "--json"],
    }


def clock_keys(value: Any, path: str = "") -> list[str]:
    """Paths of the keys anywhere in a JSON value that name a wall-clock figure."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}"
            if any(word in str(key).lower() for word in CLOCK_WORDS):
                found.append(here)
            found += clock_keys(item, here)
    elif isinstance(value, list):
        for k, item in enumerate(value):
            found += clock_keys(item, f"{path}[{k}]")
    return found


def run_json(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    code, out, err = cli(capsys, *args)
    assert code == 0, (args, err[-2000:])
    return out


@pytest.mark.parametrize("name", list(json_commands()))
def test_same_input_same_bytes(name: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    args = resolve(json_commands()[name], tmp_path)
    first, second = run_json(capsys, args), run_json(capsys, args)
    assert first == second, name
    assert clock_keys(json.loads(first)) == [], name


@pytest.mark.parametrize("command", ["search", "disagg"])
def test_timings_flag_adds_the_wall_time(command: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    plain = json.loads(run_json(capsys, [command, SPACE, "--json"]))
    timed = json.loads(run_json(capsys, [command, SPACE, "--json", "--timings"]))
    elapsed = timed.pop("elapsed_s")
    assert isinstance(elapsed, float) and 0 < elapsed < 60
    assert timed == plain
    code, out, err = cli(capsys, command, SPACE)          # the tables keep the time
    assert code == 0 and re.search(r" in [0-9]+\.[0-9]{2} s", out), err
