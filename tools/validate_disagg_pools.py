#!/usr/bin/env python3
"""Score the disaggregated rows of a serving CSV through the simulator, in parallel.

Usage::

    PYTHONPATH=src python tools/validate_disagg_pools.py ../shared/validation/serving_dev.csv \
        --processes 2 [--json out.json]

Reads only the rows whose `mode` is `disagg` and drops every Llama-3.1 row (held out:
serving_dev.csv's README), then runs `validate_serving.run_serving_validation` with the
simulator's predictors (`sim.run.simulated_means`, `sim.run.simulated_pool_means`), as
`inferplan validate --serving --simulate` does, on `--processes` slices of the rows, and
prints each group's rows, TPOT and TTFT MAPE and the skip reasons.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.sim.run import simulated_means, simulated_pool_means
from inferplan.validate_serving import (
    ServingCase,
    ServingSkip,
    read_serving_rows,
    run_serving_validation,
    serving_table,
)


def held_out(row: dict[str, str]) -> bool:
    """Whether a row is a held-out Llama-3.1 row (never scored here)."""
    return "llama-3.1" in row["model_path"].lower() or "llama3.1" in row["model_path"].lower()


def score(rows: list[dict[str, str]]) -> tuple[list[ServingCase], list[ServingSkip]]:
    """One slice of rows through the simulator's predictors."""
    return run_serving_validation(rows, catalog_model, catalog_chip, simulated_means,
                                  simulated_pool_means)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = [r for r in read_serving_rows(args.csv.read_text("utf-8"), args.csv.name)
            if r["mode"] == "disagg" and not held_out(r)]
    n = max(1, args.processes)
    slices = [rows[i::n] for i in range(n)]
    with ProcessPoolExecutor(n) as pool:
        parts = list(pool.map(score, slices))
    cases = [c for part in parts for c in part[0]]
    skips = [s for part in parts for s in part[1]]
    print(f"{len(rows)} disagg rows: {len(cases)} scored, {len(skips)} skipped")
    print(f"{'group':60s} {'rows':>5s} {'TPOT MAPE':>10s} {'TTFT MAPE':>10s}")
    table = serving_table(cases)
    for s in table:
        print(f"{s.group:60s} {s.rows:5d} {s.tpot_mape:10.1%} {s.ttft_mape:10.1%}")
    for reason, count in Counter(s.reason for s in skips).most_common():
        print(f"skipped {count:4d}: {reason}")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "groups": [s.__dict__ for s in table],
            "rows": [{"id": c.row_id, "group": c.group, "ttft_s": c.ttft_s,
                      "tpot_s": c.tpot_s, "pred_ttft_s": c.pred_ttft_s,
                      "pred_tpot_s": c.pred_tpot_s} for c in cases],
            "skipped": [s.__dict__ for s in skips]}, indent=1))


if __name__ == "__main__":
    main()
