"""What a report holds and in which order: named results (an estimate, its step-time
grid, its bucket plan, a simulation, a search and its winner's estimate), each a section
of the page, in the order given, and every scenario's assumptions in one section last.
The results arrive computed (`inferplan report` gathers them the way `estimate`,
`simulate` and `search` do; `inferplan.html_report` takes the Python API's); this
module picks the sections and fills the page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeAlias

from inferplan.report.html.assumptions_section import Assumptions, assumptions_section
from inferplan.report.html.buckets_section import BucketPlan, buckets_section
from inferplan.report.html.estimate_section import estimate_section
from inferplan.report.html.page import Section, render_page
from inferplan.report.html.roofline_section import roofline_section
from inferplan.report.html.search_section import search_section
from inferplan.report.html.sim_section import sim_section
from inferplan.report.html.sweep_section import SweepRows, sweep_section
from inferplan.roofline import StepGrid
from inferplan.search.explain import Why
from inferplan.search.frontier import Frontier
from inferplan.search.result import SearchResult
from inferplan.serving import Estimate
from inferplan.sim.rerank import Resimulated
from inferplan.sim.run import Simulation


@dataclass(frozen=True)
class SearchResults:
    """One space's search: every point, the best (indices, best first) and the winner's
    estimate, the frontiers, why the winner wins, and any points simulated again; the
    winner's step-time grid and assumptions when gathered."""

    result: SearchResult
    best: list[int]
    winner: Estimate | None
    fronts: list[Frontier]
    why: Why | None
    resimulated: list[Resimulated] = field(default_factory=list)
    winner_grid: StepGrid | None = None
    winner_assumptions: Assumptions | None = None


def _anchor(prefix: str, k: int, name: str) -> str:
    """An HTML id from a name: `estimate-1-int8-4x2-bs32`."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return f"{prefix}-{k}-{slug}" if slug else f"{prefix}-{k}"


#: One part of a report, named: a scenario's estimate, step-time grid, bucket plan,
#: assumptions or simulation, or a space's search.
Part: TypeAlias = ("tuple[str, Estimate | StepGrid | BucketPlan | Assumptions | Simulation"
                   " | SearchResults | SweepRows]")


def sections(parts: list[Part]) -> list[Section]:
    """The report's sections, in the order of `parts`; a search is followed by its
    winner's estimate (and step-time grid); the assumptions of every part that has them
    make one section, last."""
    out: list[Section] = []
    assumed: list[tuple[str, Assumptions]] = []
    for k, (name, part) in enumerate(parts, 1):
        if isinstance(part, Estimate):
            out.append(estimate_section(part, _anchor("estimate", k, name),
                                        f"Estimate: {name}"))
        elif isinstance(part, StepGrid):
            out.append(roofline_section(part, _anchor("roofline", k, name),
                                        f"Step time against batch: {name}"))
        elif isinstance(part, BucketPlan):
            out.append(buckets_section(part, _anchor("buckets", k, name),
                                       f"Bucket plans: {name}"))
        elif isinstance(part, Assumptions):
            assumed.append((name, part))
        elif isinstance(part, Simulation):
            out.append(sim_section(part, _anchor("simulation", k, name),
                                   f"Simulation: {name}"))
        elif isinstance(part, SweepRows):
            out.append(sweep_section(part, _anchor("sweep", k, name), f"Sweep: {name}"))
        else:
            out.append(search_section(part.result, part.best, part.fronts, part.why,
                                      part.resimulated, _anchor("search", k, name),
                                      f"Search: {name}"))
            if part.winner is not None:
                out.append(estimate_section(part.winner, _anchor("winner", k, name),
                                            f"The winner of {name}: its estimate"))
            if part.winner_grid is not None:
                out.append(roofline_section(part.winner_grid, _anchor("winner-roofline", k,
                                                                      name),
                                            f"The winner of {name}: step time against "
                                            "batch"))
            if part.winner_assumptions is not None:
                assumed.append((f"the winner of {name}", part.winner_assumptions))
    if assumed:
        out.append(assumptions_section(assumed, "assumptions"))
    return out


def report_html(title: str, parts: list[Part]) -> str:
    """The whole report page."""
    return render_page(title, sections(parts))
