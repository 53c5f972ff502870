"""The Python API (issue 14): `inferplan.estimate`, `search`, `simulate` and `load`.

Another front door beside the `inferplan` command, through the same rooms: a scenario
(or a space) given as a mapping, a path to its YAML/JSON file, or typed objects goes
through the CLI's loader (`cli.loader`) and the CLI's actions (`cli.actions`), and comes
back as a report that holds the typed result the CLI gets, prints as the CLI's tables
(the `report/` renderers), renders as HTML in a notebook, and gives the CLI's `--json`
as `.to_dict()`. A bad input raises the `InferplanError` the CLI prints as its one line.

An entry point like `cli` (it imports the CLI's loader and the renderers); the package's
`__init__` imports it only when one of the functions is called, so `import inferplan`
stays light.
"""

from __future__ import annotations

import io
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, TypeAlias

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from inferplan.cli.actions.estimate import fitting_estimate, fitting_estimate_of
from inferplan.cli.actions.report import estimate_parts, search_results
from inferplan.cli.actions.search import SearchAnswer, search_answer
from inferplan.cli.actions.simulate import check_seed, simulate_built, simulate_scenario
from inferplan.cli.loader import load_scenario
from inferplan.deployment import Deployment, Workload
from inferplan.report.estimate_table import render_estimate
from inferplan.report.html.document import Part, report_html
from inferplan.report.json_out import to_json
from inferplan.report.sim_report import render_simulation
from inferplan.search import SearchResult
from inferplan.serving import Estimate, estimate_dict
from inferplan.sim.run import Simulation
from inferplan.units import InferplanError

#: A scenario or a space as a file (YAML, or JSON by its `.json` suffix) or a mapping of
#: the same fields; a mapping's relative references resolve from the working folder.
Source: TypeAlias = "str | PathLike[str] | Mapping[str, Any]"
#: What `estimate` and `simulate` take: a source, or a built (Deployment, Workload) pair.
ScenarioInput: TypeAlias = "Source | tuple[Deployment, Workload] | Deployment"

#: Width of the HTML export of a report (a notebook cell has no terminal to ask).
HTML_WIDTH_CHARS = 110


class Report(ABC):
    """A result that prints as the CLI's tables and renders in a notebook."""

    @abstractmethod
    def render(self, console: Console) -> None:
        """Print the tables the CLI prints for this result onto `console`."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The JSON the CLI's `--json` prints for the same input, as plain values: the
        same input gives the same dict, wall-clock times left out (a `SearchReport`'s
        `to_dict(timings=True)` adds its `elapsed_s`, as `search --timings` does)."""

    def text(self, width_chars: int | None = None) -> str:
        """The tables as plain text (no colour), `width_chars` wide (default: the
        terminal's width, or 80 when there is none, as the CLI's)."""
        buffer = io.StringIO()
        self.render(Console(file=buffer, width=width_chars, color_system=None,
                            force_terminal=False))
        return buffer.getvalue()

    def __str__(self) -> str:
        return self.text()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        buffer = io.StringIO()
        self.render(Console(file=buffer, width=options.max_width,
                            color_system=console.color_system,  # type: ignore[arg-type]
                            force_terminal=console.is_terminal, legacy_windows=False))
        rendered = buffer.getvalue()
        yield Text.from_ansi(rendered.removesuffix("\n"), no_wrap=True)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the same tables, exported by rich with inline styles."""
        console = Console(file=io.StringIO(), width=HTML_WIDTH_CHARS, record=True,
                          force_jupyter=False)
        self.render(console)
        return console.export_html(inline_styles=True)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's terminal display: the tables rather than the dataclass fields."""
        printer.text(f"{type(self).__name__}(...)" if cycle else self.text())


def _plain(record: object) -> dict[str, Any]:
    """A record as the CLI's `--json` text parses back: numpy scalars become Python's."""
    parsed = json.loads(to_json(record))
    assert isinstance(parsed, dict)
    return parsed


@dataclass(frozen=True, repr=False)
class EstimateReport(Report):
    """`inferplan estimate` of one scenario; `estimate` is the serving model's result."""

    estimate: Estimate

    def render(self, console: Console) -> None:
        render_estimate(self.estimate, console)

    def to_dict(self) -> dict[str, Any]:
        return _plain(estimate_dict(self.estimate))

    def __repr__(self) -> str:
        est = self.estimate
        return (f"EstimateReport({est.deployment.model.name} on {est.deployment.chips}x "
                f"{est.deployment.chip.name}: TTFT {est.ttft_s * 1e3:.1f} ms, TPOT "
                f"{est.tpot_s * 1e3:.2f} ms, {est.output_tokens_per_s:,.0f} output tok/s)")


@dataclass(frozen=True, repr=False)
class SearchReport(Report):
    """`inferplan search` of one space; `result` is every evaluated point, `answer` the
    best points, why the winner wins and any re-simulated points."""

    answer: SearchAnswer

    @property
    def result(self) -> SearchResult:
        return self.answer.result

    @property
    def best(self) -> list[tuple[int, Estimate]]:
        """The best points (index into `result`, estimate), best first."""
        return self.answer.best

    def render(self, console: Console) -> None:
        self.answer.render(console)

    def to_dict(self, timings: bool = False) -> dict[str, Any]:
        """`search --json`; `timings`: with `elapsed_s`, the wall time (`--timings`)."""
        return _plain(self.answer.record(timings))

    def __repr__(self) -> str:
        r = self.answer.result
        return (f"SearchReport({r.evaluated} points evaluated, {r.feasible} feasible, "
                f"objective {r.objective})")


@dataclass(frozen=True, repr=False)
class SimulationReport(Report):
    """`inferplan simulate` of one scenario; `simulation` is the simulator's result."""

    simulation: Simulation

    def render(self, console: Console) -> None:
        render_simulation(self.simulation, console)

    def to_dict(self) -> dict[str, Any]:
        return _plain(self.simulation.to_dict())

    def __repr__(self) -> str:
        s = self.simulation.summary
        return (f"SimulationReport({self.simulation.deployment.model.name}: TTFT p90 "
                f"{s.ttft_s.p90 * 1e3:.1f} ms, TPOT p90 {s.tpot_s.p90 * 1e3:.2f} ms)")


def _source(value: object, field: str) -> Source:
    """A path or mapping as the loader takes it, or the one-line error for anything else."""
    if isinstance(value, Mapping | str | PathLike):
        return value
    raise InferplanError(field, value, "a mapping, or the path of a YAML/JSON file"
                         + (", or a (Deployment, Workload) pair" if field == "scenario"
                            else ""))


def _pair(scenario: ScenarioInput, workload: Workload | None
          ) -> tuple[Deployment, Workload] | None:
    """The (Deployment, Workload) a caller built, or None when it gave a source."""
    if isinstance(scenario, tuple) and len(scenario) == 2 and isinstance(
            scenario[0], Deployment) and isinstance(scenario[1], Workload):
        if workload is not None:
            raise InferplanError("workload", workload, "given twice: the pair has one")
        return scenario[0], scenario[1]
    if isinstance(scenario, Deployment):
        if not isinstance(workload, Workload):
            raise InferplanError("workload", workload, "a Workload beside the Deployment")
        return scenario, workload
    if workload is not None:
        raise InferplanError("workload", workload, "only beside a Deployment")
    return None


def load(scenario: Source) -> tuple[Deployment, Workload]:
    """A scenario's typed objects, as every command builds them (for `dataclasses.replace`
    and back into `estimate` or `simulate`)."""
    return load_scenario(_source(scenario, "scenario"))


def estimate(scenario: ScenarioInput, workload: Workload | None = None) -> EstimateReport:
    """`inferplan estimate`: latency, throughput and the step-time split of a scenario
    (a mapping, a path, a (Deployment, Workload) pair, or a Deployment and `workload`).
    A batch that does not fit raises the CLI's refusal."""
    pair = _pair(scenario, workload)
    if pair is not None:
        return EstimateReport(fitting_estimate_of(*pair))
    return EstimateReport(fitting_estimate(_source(scenario, "scenario")))


def search(space: Source, top: int = 5, simulate_top: int = 0) -> SearchReport:
    """`inferplan search`: every point of a space (a mapping or a path), the best `top`,
    and the best `simulate_top` in-flight points simulated request by request."""
    if top < 1:
        raise InferplanError("top", top, "an integer >= 1")
    if simulate_top < 0:
        raise InferplanError("simulate_top", simulate_top, "an integer >= 0")
    return SearchReport(search_answer(_source(space, "space"), top, simulate_top))


def simulate(scenario: ScenarioInput, workload: Workload | None = None, *,
             seed: int = 0) -> SimulationReport:
    """`inferplan simulate`: a scenario's requests simulated one by one (a mapping or a
    path, disaggregated pools included; or a (Deployment, Workload) pair, whose trace
    file, if any, resolves from the working folder)."""
    check_seed(seed, "seed")
    pair = _pair(scenario, workload)
    if pair is not None:
        return SimulationReport(simulate_built(*pair, seed, Path.cwd()))
    return SimulationReport(simulate_scenario(_source(scenario, "scenario"), seed))


def html_report(*reports: Report, title: str | None = None) -> str:
    """`inferplan report` of reports already made: an `EstimateReport`'s estimate, a
    `SimulationReport`'s percentiles, a `SearchReport`'s ranked table, frontier and
    winner, in the order given, as one HTML page that opens offline (write it with
    `Path(...).write_text(page, encoding="utf-8")`)."""
    parts: list[Part] = []
    for report in reports:
        if isinstance(report, EstimateReport):
            d = report.estimate.deployment
            parts += estimate_parts(f"{d.model.name} on {d.chips}x {d.chip.name}",
                                    report.estimate)
        elif isinstance(report, SimulationReport):
            d = report.simulation.deployment
            parts.append((f"{d.model.name} on {report.simulation.chips}x {d.chip.name}",
                          report.simulation))
        elif isinstance(report, SearchReport):
            parts.append((report.result.space.name or "search space",
                          search_results(report.answer)))
        else:
            raise InferplanError("reports", type(report).__name__,
                                 "EstimateReport, SimulationReport or SearchReport")
    if not parts:
        raise InferplanError("reports", "none", "at least one report")
    names = list(dict.fromkeys(name for name, _ in parts))
    return report_html(title or "inferplan report: " + ", ".join(names), parts)
