"""The assumptions under a scenario's figures, gathered for the report's last section:
the model's and the chip's catalog sources, the engine profile and its scheduler
settings with their sources, the efficiency mode, the memory share the engine plans
for, a calibration and a speculative-decoding block when the scenario has them."""

from __future__ import annotations

from inferplan.deployment import Deployment
from inferplan.models import model_catalog
from inferplan.report.html.assumptions_section import Assumption, Assumptions
from inferplan.steptime import CalibratedStepTime

EFFICIENCY_SOURCES = {
    "realistic": "data/efficiency.yaml (measured ceilings by chip and dtype, fitted fixed "
                 "costs, each with its measurement id) and the engine profile's op costs",
    "ideal": "seed 001's textbook roofline: datasheet peaks, communication overlapped, "
             "no fixed costs"}


def model_rows(d: Deployment) -> list[Assumption]:
    """The model: its catalog entry's config source and published size, else the file."""
    entry = model_catalog().get(d.model.name)
    if entry is None:
        return [Assumption("model", "config", d.model.name,
                           "the scenario's own model file (not in the catalog)")]
    rows = [Assumption("model", "config", entry.hf_repo or entry.name, entry.source)]
    if entry.published_parameters is not None:
        rows.append(Assumption("model", "published parameters",
                               f"{entry.published_parameters:,}",
                               entry.parameters_source or ""))
    return rows


def catalog_value(value: object) -> str:
    """A catalog number as stated (4 significant digits), a mapping of numbers as
    `key: number` pairs; anything else (a link or topology block) is left to its source."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,.4g}"
    if isinstance(value, dict) and all(isinstance(v, (int, float)) for v in value.values()):
        return ", ".join(f"{k}: {v:,.4g}" for k, v in value.items())
    return ""


def chip_rows(d: Deployment) -> list[Assumption]:
    """The chip's catalog numbers, each with its source."""
    return [Assumption("chip", f"{d.chip.name}: {key}",
                       catalog_value(getattr(d.chip, key, None)), source)
            for key, source in d.chip.sources.items()]


def engine_rows(d: Deployment) -> list[Assumption]:
    """The engine profile (name, version) and every scheduler setting, with its source
    where the profile gives one."""
    e, s = d.engine, d.engine.scheduler
    rows = [Assumption("engine", "profile", f"{e.name} ({e.display_name} {e.version})",
                       f"data/engines/{e.name}.yaml"
                       + (f", op costs of {e.ops_from}" if e.ops_from else ""))]
    rows += [Assumption("engine", f"scheduler.{key}", str(getattr(s, key)),
                        s.sources.get(key, "")) for key in type(s).model_fields
             if key != "sources"]
    rows.append(Assumption("engine", "max running sequences per replica",
                           f"{d.max_running_sequences:,}",
                           "scheduler.max_num_seqs per attention-DP scheduler"))
    return rows


def run_rows(d: Deployment) -> list[Assumption]:
    """Efficiency mode, memory share, calibration and speculative decoding."""
    rows = [Assumption("efficiency", "mode", d.efficiency, EFFICIENCY_SOURCES[d.efficiency]),
            Assumption("memory", "usable share of capacity", f"{d.usable_fraction:.0%}",
                       "the scenario's memory_utilization" if d.memory_utilization is not None
                       else "data/engine_defaults.yaml" if d.efficiency == "realistic"
                       else "ideal: all of it")]
    step = d.step_time
    if isinstance(step, CalibratedStepTime):
        scale = ", ".join(f"{term} x{ratio:g}" for term, ratio in step.scale)
        rows.append(Assumption("calibration", "measured / modelled, by term", scale,
                               step.source or "the scenario's calibration file"))
        rows.append(Assumption(
            "calibration", "fixed costs; how the terms add; relative to",
            f"{step.per_step_s:g} s a step, {step.per_layer_s:g} s a layer, "
            f"{step.per_sequence_layer_s:g} s a sequence and layer; overlap {step.overlap}; "
            f"{step.efficiency or d.efficiency}", "the same file (inferplan calibrate)"))
    else:
        rows.append(Assumption("calibration", "file", "none: the analytic roofline", ""))
    spec = d.speculative
    if spec is not None:
        rows.append(Assumption("speculative", "draft, gamma, alpha",
                               f"{spec.draft.name}, {spec.gamma}, {spec.alpha:g}",
                               "the scenario's speculative block (alpha is stated, not "
                               "measured here)"))
    return rows


def assumptions_of(d: Deployment) -> Assumptions:
    """Every assumption of a deployment, in the order the report lists them."""
    return Assumptions(tuple(model_rows(d) + chip_rows(d) + engine_rows(d) + run_rows(d)))
