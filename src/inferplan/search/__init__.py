"""Search a space of deployments: enumerate, evaluate vectorised, rank, frontier, recommend.

`parse_space` validates a space (a scenario whose fields may hold lists and ranges);
`run_search` evaluates every point: static groups with small decode grids by family, many
deployments as rows of one numpy pass (`rows`), the others per deployment with all batch
values in one pass; `frontier`, `recommend` and `why` answer the questions the CLI asks.
"""

from inferplan.search.result import SearchResult, run_search
from inferplan.search.space import SpaceIn, parse_space

__all__ = ["SearchResult", "SpaceIn", "parse_space", "run_search"]
