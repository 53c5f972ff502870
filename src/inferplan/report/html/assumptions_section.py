"""The report's last section: what every figure above rests on, with where each came
from: the model's and the chip's catalog sources, the engine profile (name, version,
scheduler settings and their sources), the efficiency mode, the calibration file and
the speculative-decoding block, per scenario.

The rows arrive gathered (`cli/actions/report_assumptions.py` reads them off the
deployment and the catalogs); this module lays them out."""

from __future__ import annotations

from dataclasses import dataclass

from inferplan.report.html.markup import Cell, table
from inferplan.report.html.page import Section


@dataclass(frozen=True)
class Assumption:
    """One assumption: its topic (model, chip, engine, ...), what is assumed, the value,
    and where the value comes from (a catalog source, a doc, a file; "" when none)."""

    topic: str
    setting: str
    value: str
    source: str


@dataclass(frozen=True)
class Assumptions:
    """The assumptions of one scenario (or a search's winner), in the order shown."""

    rows: tuple[Assumption, ...]


def assumptions_table(name: str, assumptions: Assumptions) -> str:
    """One table per scenario: topic, setting, value, source."""
    rows: list[list[Cell]] = [[a.topic, a.setting, a.value, a.source or "-"]
                              for a in assumptions.rows]
    return table(["topic", "setting", "value", "source"], rows, numeric=set(),
                 caption=f"assumptions of {name}")


def assumptions_section(named: list[tuple[str, Assumptions]], anchor: str) -> Section:
    """The one section at the bottom of the page, a table per scenario."""
    return Section(anchor, "Assumptions",
                   "\n".join(assumptions_table(name, a) for name, a in named))
