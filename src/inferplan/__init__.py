"""inferplan: plan LLM inference deployments from first principles.

The Python API (docs/python-api.md): `estimate`, `search` and `simulate` take a scenario
(or a space) as a mapping, the path of its YAML/JSON file, or typed objects, go through
the same loader as the `inferplan` command, and return reports that print as its tables,
render in a notebook and give its `--json` as `.to_dict()`. `load` builds a scenario's
typed objects; `html_report` puts reports on one HTML page, as `inferplan report`
does. A bad input raises `InferplanError`, the one line the command prints.

Each function imports its work when called (`inferplan.api`), so `import inferplan`
(and `inferplan --help`) loads no numpy, pydantic or catalog.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

from inferplan.units import InferplanError

if TYPE_CHECKING:
    from inferplan.api import (
        EstimateReport,
        Report,
        ScenarioInput,
        SearchReport,
        SimulationReport,
        Source,
    )
    from inferplan.deployment import Deployment, Workload

__version__ = "0.1.0"
__all__ = ["InferplanError", "estimate", "html_report", "load", "search", "simulate"]


def load(scenario: Source) -> tuple[Deployment, Workload]:
    """A scenario's `Deployment` and `Workload`, as every command builds them."""
    from inferplan import api

    return api.load(scenario)


def estimate(scenario: ScenarioInput, workload: Workload | None = None) -> EstimateReport:
    """`inferplan estimate` of a scenario (mapping, path, or Deployment + Workload)."""
    from inferplan import api

    return api.estimate(scenario, workload)


def search(space: Source, top: int = 5,
           simulate_top: int = 0) -> SearchReport:
    """`inferplan search` of a space (mapping or path)."""
    from inferplan import api

    return api.search(space, top, simulate_top)


def simulate(scenario: ScenarioInput, workload: Workload | None = None, *,
             seed: int = 0) -> SimulationReport:
    """`inferplan simulate` of a scenario (mapping, path, or Deployment + Workload)."""
    from inferplan import api

    return api.simulate(scenario, workload, seed=seed)


def html_report(*reports: Report, title: str | None = None) -> str:
    """`inferplan report` of reports already made, in order: one offline HTML page."""
    from inferplan import api

    return api.html_report(*reports, title=title)


class _Package(types.ModuleType):
    """The package module, keeping `inferplan.search` the function: importing the
    `inferplan.search` subpackage would otherwise set the attribute to the module
    (`from inferplan.search import ...` is unaffected: it reads `sys.modules`)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "search" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
