"""The columns of a sweep's results, in order, with their types: the same in the Parquet
file, the CSV file and the rows `read_results` returns.

One row per point: its key and place, the scenario (the whole of it as JSON, and the
fields one filters on as columns), and the job's figures in SI units (seconds, tokens/s);
a point that could not be answered has its reason in `error` and no figures.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

#: A column's type: Arrow's int64, float64, bool or string (each may be null).
Kind: TypeAlias = Literal["int", "float", "bool", "str"]
#: One result row: column name → value (None where the point has no such figure).
Row: TypeAlias = dict[str, Any]

#: The percentiles of a simulated distribution; the closed form fills `_mean` alone.
STATS = ("mean", "p50", "p90", "p99")

COLUMNS: dict[str, Kind] = {
    # where the point is
    "index": "int", "key": "str", "job": "str", "seed": "int",
    # the scenario: its fields as columns, the grid values that made it, and all of it
    "model": "str", "hardware": "str", "chips": "int", "tp": "int", "pp": "int",
    "replicas": "int", "engine": "str", "weights_dtype": "str", "kv_dtype": "str",
    "input_len": "int", "output_len": "int", "concurrency": "int", "rate": "float",
    "axes": "str", "scenario": "str",
    # the answer
    "fits": "bool", "max_batch": "int",
    **{f"{metric}_s_{stat}": "float" for metric in ("ttft", "tpot", "e2e") for stat in STATS},
    "output_tokens_per_s": "float", "output_tokens_per_s_per_chip": "float",
    "requests_per_s": "float", "usd_per_million_output_tokens": "float",
    "simulated_requests": "int", "simulated_duration_s": "float",
    "error": "str",
    # how it ran
    "elapsed_s": "float", "worker": "str",
}


def empty_row() -> Row:
    """A row with every column null."""
    return dict.fromkeys(COLUMNS)


def arrow_schema() -> Any:
    """The columns as a `pyarrow.Schema` (pyarrow imported here: only writers and readers
    of results need it)."""
    import pyarrow as pa

    types = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}
    return pa.schema([(name, types[kind]) for name, kind in COLUMNS.items()])
