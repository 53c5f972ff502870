"""Shared fixtures: catalog specs and a deployment builder for tests."""

from __future__ import annotations

from typing import Any

import pytest

from inferplan.deployment import Deployment, Workload
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.scenario import build_deployment, parse_scenario


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `inferplan ARGS` in-process: (exit status, stdout, stderr)."""
    from inferplan.cli import main

    with pytest.raises(SystemExit) as stop:
        main(list(args))
    code = stop.value.code
    captured = capsys.readouterr()
    return (code if isinstance(code, int) else 0 if code is None else 1,
            captured.out, captured.err)


def one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The command exits 2 with exactly one line on stderr, `error: ...`; that line."""
    code, out, err = cli(capsys, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (args, code, out[-500:], err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), lines[:5]
    assert len(lines[0]) < 1000, lines[0][:1000]
    return lines[0]


def make(**fields: Any) -> tuple[Deployment, Workload]:
    """Build a deployment from scenario fields (catalog names only)."""
    raw: dict[str, Any] = {"workload": {"input_len": 8192, "output_len": 1, "batch": 1}}
    raw.update(fields)
    return build_deployment(parse_scenario(raw), catalog_model, catalog_chip)


@pytest.fixture
def build() -> Any:
    return make
