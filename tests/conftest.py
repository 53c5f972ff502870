"""Shared fixtures: catalog specs and a deployment builder for tests."""

from __future__ import annotations

from typing import Any

import pytest

from inferplan.deployment import Deployment, Workload
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.scenario import build_deployment, parse_scenario


def make(**fields: Any) -> tuple[Deployment, Workload]:
    """Build a deployment from scenario fields (catalog names only)."""
    raw: dict[str, Any] = {"workload": {"input_len": 8192, "output_len": 1, "batch": 1}}
    raw.update(fields)
    return build_deployment(parse_scenario(raw), catalog_model, catalog_chip)


@pytest.fixture
def build() -> Any:
    return make
