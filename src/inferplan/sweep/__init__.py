"""Sweeps: a spec's grid of scenarios, each point answered by the closed form and/or the
simulator, run on a process pool or a Ray cluster, written to Parquet and CSV as shards
land, each key once (docs/sweep.md).

`spec` validates the spec file, `expand` turns it into keyed points, `shards` groups
them, `backends` run them, `rows` turns each answer into a result row (`columns`), and
`results` writes the rows and reads them back: `read_results(path)` is what a report
calls. The command (`inferplan sweep`) and the worker that answers a point live in
`cli/`, which reads the user's files.
"""

from __future__ import annotations

from inferplan.sweep.results import read_results

__all__ = ["read_results"]
