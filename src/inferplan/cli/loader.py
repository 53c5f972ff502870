"""Resolve a scenario file into a `Deployment`: catalog names or paths next to the file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from os import PathLike, fspath
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from inferplan.cli.files import looks_like_path, read_mapping, read_text
from inferplan.deployment import Deployment, Workload
from inferplan.hardware import ChipSpec, catalog_chip, chip_from_dict
from inferplan.models import ModelSpec, catalog_model, hf_id_index, model_from_hf_config
from inferplan.scenario import (
    DisaggregatedIn,
    ScenarioIn,
    build_deployment,
    build_pools,
    parse_scenario,
)
from inferplan.steptime import CalibratedStepTime, calibration_from_mapping
from inferplan.units import parse_bundled_yaml

if TYPE_CHECKING:   # the simulator is imported only by the commands that read a trace
    from inferplan.sim.requests import Requests

DEFAULT_SCENARIO = "default.yaml"

#: Where a scenario (or a search space) comes from: a file's path, a mapping already in
#: memory (the Python API's dict; its references resolve from the working folder), or
#: None for the bundled default scenario.
Source: TypeAlias = "str | PathLike[str] | Mapping[str, Any] | None"


def default_scenario_text() -> str:
    return (resources.files("inferplan") / "data" / "scenarios" / DEFAULT_SCENARIO).read_text(
        encoding="utf-8")


def load_model(ref: str, base: Path) -> ModelSpec:
    """A catalog name, an HF repo id the catalog maps (`Qwen/Qwen3-32B`), or a path
    (relative to the scenario) to an HF config.json."""
    if looks_like_path(ref) and ref.lower() not in hf_id_index():
        path = (base / ref) if not Path(ref).is_absolute() else Path(ref)
        return model_from_hf_config(read_mapping(path, "model"), name=path.parent.name
                                    if path.name == "config.json" else path.stem)
    return catalog_model(ref)


def load_chip(ref: str, base: Path) -> ChipSpec:
    """A catalog name or alias, or a path to a hardware YAML."""
    if looks_like_path(ref):
        path = (base / ref) if not Path(ref).is_absolute() else Path(ref)
        return chip_from_dict(read_mapping(path, "hardware"), origin=path.name)
    return catalog_chip(ref)


def load_calibration(ref: str, base: Path, field: str = "calibration") -> CalibratedStepTime:
    """A calibration YAML/JSON (relative to `base`: the scenario's folder for its
    `calibration:`): measured per-term ratios and fixed costs."""
    path = (base / ref) if not Path(ref).is_absolute() else Path(ref)
    return calibration_from_mapping(read_mapping(path, field), origin=path.name)


def flag_calibration(ref: str | None) -> CalibratedStepTime | None:
    """`--calibration FILE` (relative to the working folder), or None without the flag:
    the one place every pricing command's flag is read."""
    return None if ref is None else load_calibration(ref, Path.cwd(), "--calibration")


def _without_own_calibration(scenario: ScenarioIn, flag: CalibratedStepTime | None
                             ) -> ScenarioIn:
    """The scenario, its `calibration:` dropped when the flag overrides it."""
    return scenario if flag is None else scenario.model_copy(update={"calibration": None})


def scenario_folder(source: Source) -> Path:
    """The folder a scenario's relative references (model, hardware, trace) start from:
    the file's folder, or the working folder for a mapping or the default scenario."""
    if source is None or isinstance(source, Mapping):
        return Path.cwd()
    return Path(source).resolve().parent


def load_trace(ref: str, base: Path, timed: bool = True) -> Requests:
    """A workload's trace file (CSV or JSON Lines; `inferplan.sim.trace`); not `timed`:
    a closed loop's lengths, in the file's order."""
    from inferplan.sim.trace import trace_requests

    path = (base / ref) if not Path(ref).is_absolute() else Path(ref)
    return trace_requests(read_text(path, "workload.trace"), origin=path.name, timed=timed)


def with_trace_lengths(workload: Workload, base: Path) -> Workload:
    """A closed loop over a lengths file (`trace` with `concurrency`): the workload with
    the file's mean lengths (`sim.requests.with_file_lengths`), which the closed form
    reads; any other workload as it is."""
    if workload.trace is None or workload.concurrency is None:
        return workload
    from inferplan.sim.requests import with_file_lengths

    return with_file_lengths(workload, load_trace(workload.trace, base, timed=False),
                             workload.concurrency)


def load_raw(source: Source, field: str = "scenario", base: Path | None = None
             ) -> tuple[dict[str, Any], Path]:
    """The scenario (or space) mapping and the folder its references are relative to;
    `base`, when given, is that folder for a mapping (a sweep's points resolve from their
    spec file's folder, wherever the worker runs)."""
    if source is None:
        data: dict[str, Any] = parse_bundled_yaml(default_scenario_text())
        return data, Path.cwd()
    if isinstance(source, Mapping):
        return dict(source), Path.cwd() if base is None else base
    return read_mapping(fspath(source), field), scenario_folder(source)


def load_scenario(path: Source, base: Path | None = None, *, calibration: str | None = None
                  ) -> tuple[Deployment, Workload]:
    """A scenario's deployment and workload; a mapping's references resolve from `base`
    (default: the working folder); `calibration` (`--calibration FILE`) prices its steps
    instead of the scenario's own `calibration:`."""
    flag = flag_calibration(calibration)
    raw, base = load_raw(path, base=base)
    scenario = _without_own_calibration(parse_scenario(raw, origin="scenario"), flag)
    deployment, workload = build_deployment(
        scenario, lambda r: load_model(r, base), lambda r: load_chip(r, base),
        lambda r: load_calibration(r, base))
    workload = with_trace_lengths(workload, base)
    return (deployment if flag is None else replace(deployment, step_time=flag)), workload


def load_pools(path: Source, base: Path | None = None, *, calibration: str | None = None
               ) -> tuple[Deployment, Deployment, Workload, DisaggregatedIn] | None:
    """A scenario's disaggregated pools (prefill, decode, workload, the block), or None
    when it has no `disaggregated:` block; a mapping's references resolve from `base`;
    `calibration` as in `load_scenario`."""
    flag = flag_calibration(calibration)
    raw, base = load_raw(path, base=base)
    scenario = _without_own_calibration(parse_scenario(raw, origin="scenario"), flag)
    if scenario.disaggregated is None:
        return None
    prefill, decode, workload = build_pools(
        scenario, lambda r: load_model(r, base), lambda r: load_chip(r, base),
        lambda r: load_calibration(r, base))
    if flag is not None:
        prefill, decode = replace(prefill, step_time=flag), replace(decode, step_time=flag)
    return prefill, decode, workload, scenario.disaggregated
