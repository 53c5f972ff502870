"""Predictions against published measurements: which rows map onto a scenario, the
predicted value for each, and the error per source and per hardware.

A row of `measured_dev.csv` (or a user's CSV with the same columns) becomes a scenario:
catalog model and chip (names mapped in `data/validation/mapping.yaml`), chips, tp/pp,
dtypes, input/output length, and the workload mode its `batch_or_concurrency` states
("static batch 84" → `batch: 84`; "max load ..." → `batch: max`). Rows that cannot be
mapped are kept with the reason. Errors: APE = |pred − meas| / meas; bias is the median
signed error (pred − meas) / meas, so +0.2 means 20% optimistic on throughput.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from inferplan.engines import EngineProfile
from inferplan.hardware import ChipSpec
from inferplan.models import ModelSpec
from inferplan.scenario import build_deployment, parse_scenario
from inferplan.serving import estimate
from inferplan.units import InferplanError, parse_bundled_yaml
from inferplan.validation import map_and_predict, read_csv_rows

REQUIRED_COLUMNS = ("id", "model", "hardware", "n_chips", "tp", "weight_dtype", "kv_dtype",
                    "compute_dtype", "input_len", "output_len", "batch_or_concurrency",
                    "metric", "value", "unit")
#: CSV dtype spellings → inferplan dtypes
DTYPE_NAMES = {"fp16": "fp16", "bf16": "bf16", "fp8": "fp8", "int8": "int8", "int4": "int4",
               "fp32": "fp32"}
TTFT_FIELDS = ("ttft_s",)
THROUGHPUT_FIELDS = ("output_tokens_per_s", "output_tokens_per_s_per_chip")


@cache
def mapping_table() -> dict[str, Any]:
    """Model, hardware and metric names of the bundled measurements (data/validation)."""
    text = (resources.files("inferplan") / "data" / "validation" / "mapping.yaml").read_text(
        "utf-8")
    data: dict[str, Any] = parse_bundled_yaml(text)
    return data


def bundled_measurements_text() -> str:
    """The bundled copy of shared/validation/measured_dev.csv."""
    return (resources.files("inferplan") / "data" / "validation" / "measured_dev.csv").read_text(
        "utf-8")


def read_rows(text: str, origin: str = "measurements") -> list[dict[str, str]]:
    """CSV text → rows; a missing column is an error naming it."""
    return read_csv_rows(text, origin, REQUIRED_COLUMNS)


def clean_name(text: str) -> str:
    """'NVIDIA A100 SXM4 80GB? (doc: A100-80G)' → 'NVIDIA A100 SXM4 80GB'."""
    text = re.sub(r"\(.*?\)", "", text)
    return text.replace("?", "").strip()


@dataclass(frozen=True)
class Case:
    """One measured row mapped to a scenario, with the prediction once evaluated."""

    row_id: str
    source: str                       # id prefix: TRT09, LMD, ...
    hardware: str                     # catalog chip
    kind: str                         # throughput | ttft | tpot
    mode: str                         # static | max
    scenario: dict[str, Any]
    field: str
    measured: float                   # SI units
    predicted: float = float("nan")
    fits: bool = True

    @property
    def error(self) -> float:
        """Signed relative error (pred − meas)/meas."""
        return (self.predicted - self.measured) / self.measured


@dataclass(frozen=True)
class Skipped:
    row_id: str
    reason: str


def _workload(text: str, input_len: int, output_len: int) -> tuple[dict[str, Any], str]:
    """'static batch 84' → ({batch: 84}, 'static'); 'max load: ...' → ({batch: max}, 'max')."""
    low = text.lower()
    if low.startswith("max load"):
        return {"input_len": input_len, "output_len": output_len, "batch": "max"}, "max"
    found = re.match(r"(?:static )?batch (\d+)", low)
    if found is None:
        raise ValueError(f"workload '{text}' is neither a static batch nor max load "
                         "(a server batch on a length distribution needs the trace simulator)")
    batch = int(found.group(1))
    return {"input_len": input_len, "output_len": output_len, "batch": batch}, "static"


def map_row(row: Mapping[str, str]) -> Case | Skipped:
    """A CSV row → a `Case` (scenario, target field, measured value in SI) or the reason not."""
    table = mapping_table()
    rid = row["id"]
    prefix = rid.split("-")[0]
    if prefix in table["calibration_inputs"]:
        return Skipped(rid, "microbenchmark: an input of data/efficiency.yaml, not a serving run")
    model = table["models"].get(clean_name(row["model"]))
    if model is None:
        return Skipped(rid, f"model '{row['model']}' is not in the catalog mapping")
    chip = next((v for k, v in table["hardware"].items()
                 if clean_name(row["hardware"]).startswith(k)), None)
    if chip is None:
        return Skipped(rid, f"hardware '{row['hardware']}' is not in the catalog mapping")
    metric = table["metrics"].get(row["metric"])
    if metric is None:
        return Skipped(rid, f"metric '{row['metric']}' has no estimate counterpart")
    try:
        input_len, output_len = int(row["input_len"]), int(row["output_len"])
    except ValueError:
        return Skipped(rid, "input/output lengths are a distribution "
                            f"('{row['input_len'][:40]}'), not fixed lengths")
    try:
        workload, mode = _workload(row["batch_or_concurrency"], input_len, output_len)
    except ValueError as exc:
        return Skipped(rid, str(exc))
    dtypes = {k: DTYPE_NAMES.get(clean_name(row[f"{k}_dtype"]), clean_name(row[f"{k}_dtype"]))
              for k in ("weight", "kv", "compute")}
    chips, tp = int(row["n_chips"]), int(row["tp"] or 1)
    pp = int(row.get("pp") or 1)
    scenario = {
        "name": rid, "model": model, "hardware": chip, "chips": chips,
        # serving engines run Megatron tensor parallelism, not Pope et al.'s layouts
        "parallelism": {"tp": tp, "pp": pp, "layout": "megatron"},
        "dtypes": {"weights": dtypes["weight"], "kv": dtypes["kv"],
                   "compute": dtypes["compute"]},
        "efficiency": "realistic", "workload": workload}
    field = str(metric["field"])
    kind = ("ttft" if field in TTFT_FIELDS else
            "throughput" if field in THROUGHPUT_FIELDS else "tpot")
    return Case(row_id=rid, source=prefix, hardware=chip, kind=kind, mode=mode,
                scenario=scenario, field=field,
                measured=float(row["value"]) * float(metric["scale"]))


def predict(case: Case, resolve_model: Callable[[str], ModelSpec],
            resolve_chip: Callable[[str], ChipSpec],
            efficiency: str = "realistic", engine: EngineProfile | None = None,
            ) -> Case | Skipped:
    """Evaluate one case; an impossible scenario becomes a `Skipped` with the error.
    `engine` replaces the scenario's engine profile (a fit tries candidate profiles)."""
    scenario = dict(case.scenario, efficiency=efficiency)
    try:
        deployment, workload = build_deployment(parse_scenario(scenario, case.row_id),
                                                resolve_model, resolve_chip)
    except InferplanError as exc:
        return Skipped(case.row_id, str(exc))
    if engine is not None:
        deployment = replace(deployment, engine=engine)
    est = estimate(deployment, workload)
    return replace(case, predicted=float(getattr(est, case.field)), fits=est.fits)


def run_validation(rows: Iterable[Mapping[str, str]], resolve_model: Callable[[str], ModelSpec],
                   resolve_chip: Callable[[str], ChipSpec], efficiency: str = "realistic",
                   engine: EngineProfile | None = None,
                   ) -> tuple[list[Case], list[Skipped]]:
    """Map and predict every row: (evaluated cases, skipped rows with reasons)."""
    return map_and_predict(rows, map_row, lambda case: predict(
        case, resolve_model, resolve_chip, efficiency, engine), Skipped)


@dataclass(frozen=True)
class ErrorStats:
    """Error of a group of cases: median and 90th-percentile APE, median signed error."""

    group: str
    rows: int
    median_ape: float
    p90_ape: float
    bias: float


def error_stats(group: str, cases: Sequence[Case]) -> ErrorStats:
    """APE statistics of `cases`. Errors 0.1, −0.3, 0.2: median APE 0.2, bias 0.1."""
    errors = np.array([c.error for c in cases], dtype=np.float64)
    ape = np.abs(errors)
    return ErrorStats(group=group, rows=len(cases), median_ape=float(np.median(ape)),
                      p90_ape=float(np.percentile(ape, 90)), bias=float(np.median(errors)))


def error_table(cases: Sequence[Case]) -> list[ErrorStats]:
    """Rows per source × hardware, then per source, per hardware, and over all cases."""
    pairs = sorted({(c.source, c.hardware) for c in cases})
    sources = sorted({c.source for c in cases})
    chips = sorted({c.hardware for c in cases})
    table = [error_stats(f"{s} on {h}", [c for c in cases if (c.source, c.hardware) == (s, h)])
             for s, h in pairs]
    table += [error_stats(f"{s} (all hardware)", [c for c in cases if c.source == s])
              for s in sources]
    table += [error_stats(f"{h} (all sources)", [c for c in cases if c.hardware == h])
              for h in chips]
    return [*table, error_stats("all", cases)] if cases else []


def acceptance_cases(cases: Sequence[Case]) -> list[Case]:
    """The rows the issue's ≤15% target is about: static-batch throughput and TTFT."""
    return [c for c in cases if c.mode == "static" and c.kind in ("throughput", "ttft")]


def validation_dict(cases: Sequence[Case], skipped: Sequence[Skipped],
                    efficiency: str) -> dict[str, object]:
    """The JSON of `inferplan validate --json`."""
    def stats(items: Sequence[Case]) -> list[dict[str, object]]:
        return [s.__dict__ for s in error_table(items)]
    return {
        "efficiency": efficiency, "evaluated": len(cases), "skipped_count": len(skipped),
        "target": stats(acceptance_cases(cases)), "all": stats(cases),
        "rows": [{"id": c.row_id, "source": c.source, "hardware": c.hardware, "kind": c.kind,
                  "mode": c.mode, "field": c.field, "measured": c.measured,
                  "predicted": c.predicted, "error": c.error, "fits": c.fits,
                  "scenario": c.scenario} for c in cases],
        "skipped": [{"id": s.row_id, "reason": s.reason} for s in skipped],
    }
