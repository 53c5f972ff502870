"""From an answer to a deployment: the launch command, config and benchmark command that
run a scenario's deployment on vLLM, SGLang or TensorRT-LLM.

Every flag name comes from `data/engine_flags.yaml`, which names the file or doc (and
version) each was checked against; the values come from the deployment (layout, dtypes),
the engine profile's scheduler (`inferplan.engines`) and `inferplan.memory` (the largest
batch that fits). A deployment that does not fit, an engine the chip cannot run, or a
dtype the engine cannot store is an `InferplanError`, never a command that would fail.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from inferplan.deployment import Deployment, Workload
from inferplan.engines import engine_profile
from inferplan.memory import max_batch, memory_breakdown
from inferplan.models import model_catalog
from inferplan.units import EXPORT_ENGINES, InferplanError, parse_bundled_yaml
from inferplan.validation import first_error


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlagSpec(_Strict):
    """One setting's CLI flag (None: no flag; `option`: its key in TensorRT-LLM's extra
    options YAML), whether it is a bare switch, and where the name was checked."""

    flag: str | None
    source: str
    switch: bool = False
    option: str | None = None
    json_key: str | None = None


class RunsOn(_Strict):
    kinds: tuple[str, ...]
    vendors: tuple[str, ...]
    source: str


class BenchSpec(_Strict):
    command: tuple[str, ...]
    #: `symmetric`: lengths uniform in [L(1-r), L(1+r)] (vLLM's client); `lower_bound`:
    #: in [rL, L] (SGLang's bench_serving, and inferplan's `length_ratio`)
    range: Literal["symmetric", "lower_bound"]
    flags: dict[str, FlagSpec]


class SpeculativeSpec(_Strict):
    """How an engine launches one kind of draft (`mtp`: the checkpoint's own multi-token-
    prediction module; `draft`: another model): flags with value templates, or one flag
    whose value is a JSON object of templates, or keys of the extra-options YAML.
    Templates: {gamma}, {gamma_plus_1}, {draft_model} (its HF id), {mtp_method}; a value
    that renders as digits is written as a number."""

    flags: dict[str, str] = {}
    json_flag: str | None = None
    json_value: dict[str, str] = {}
    options: dict[str, str] = {}
    source: str


class AttentionDpSpec(_Strict):
    """How an engine launches data-parallel attention (`parallelism.attention_dp`): flags
    with value templates ("" for a bare switch; {ranks}, {attention_tp}), keys of the
    extra-options YAML ("true" written as a boolean), what its tensor-parallel flag then
    counts (`per_rank`: one rank's GPUs; `total`: every GPU of the group), and whether
    the ranks must span the whole tp group (`ranks_equal_tp`)."""

    flags: dict[str, str] = {}
    options: dict[str, str] = {}
    tp: Literal["per_rank", "total"]
    ranks_equal_tp: bool = False
    source: str


class EngineFlags(_Strict):
    """One engine's launch and benchmark flags at one version; `speculative` by draft kind,
    and why a kind it lacks is not exported (`speculative_missing`)."""

    version: str
    serve: tuple[str, ...]
    model_positional: bool
    model_flag: FlagSpec | None = None
    runs_on: RunsOn
    flags: dict[str, FlagSpec]
    values: dict[str, dict[str, str]]
    bench: BenchSpec
    speculative: dict[Literal["mtp", "draft"], SpeculativeSpec] = {}
    speculative_missing: str = ""
    attention_dp: AttentionDpSpec | None = None


@cache
def flag_table() -> dict[str, EngineFlags]:
    """`data/engine_flags.yaml`, validated (every flag carries a `source`)."""
    text = (resources.files("inferplan") / "data" / "engine_flags.yaml").read_text("utf-8")
    raw = parse_bundled_yaml(text)
    try:
        return {name: EngineFlags.model_validate(block) for name, block in raw.items()}
    except ValidationError as exc:
        raise first_error(exc, "data/engine_flags.yaml") from None


@dataclass(frozen=True)
class Setting:
    """One exported setting: what it is, its value, and the flag that carries it."""

    name: str
    value: object
    flag: FlagSpec


@dataclass(frozen=True)
class ExportPlan:
    """Everything `inferplan export` prints or writes for one engine."""

    engine: str
    engine_version: str
    model: str
    settings: tuple[Setting, ...]
    serve_argv: tuple[str, ...]
    extra_options: dict[str, Any]
    bench_argv: tuple[str, ...]
    notes: tuple[str, ...]
    max_batch: int
    concurrency: int
    #: the speculative decoding launched: draft kind and model, gamma (None: plain)
    speculative: dict[str, object] | None = None

    def setting(self, name: str) -> object:
        """The value of the setting `name` (KeyError if the plan has none)."""
        for s in self.settings:
            if s.name == name:
                return s.value
        raise KeyError(name)

    def to_dict(self) -> dict[str, object]:
        return {
            "engine": self.engine, "engine_version": self.engine_version, "model": self.model,
            "settings": {s.name: s.value for s in self.settings},
            "serve": list(self.serve_argv), "extra_options": self.extra_options,
            "bench": list(self.bench_argv), "notes": list(self.notes),
            "max_batch": self.max_batch, "concurrency": self.concurrency,
            "speculative": self.speculative,
        }


# ------------------------------------------------------------------ formulas
def max_running_sequences(profile_max_num_seqs: int, memory_max_batch: int) -> int:
    """The running-sequence cap to launch with: min(profile cap, largest batch that fits).

    vLLM's 1024 against 287 sequences that fit at the full context: 287.
    """
    return min(profile_max_num_seqs, memory_max_batch)


def max_model_len_tokens(workload: Workload) -> int:
    """The longest sequence the engine must hold: input + output (1024 + 128 = 1152)."""
    return workload.input_len + workload.output_len


def cuda_graph_capture_size(profile_max: int, max_num_seqs: int, token_budget: int,
                            by_tokens: bool) -> int:
    """Largest step captured in CUDA graphs: the profile's size, capped at the steps the
    engine can form (tokens per step when capture is by token count, as vLLM's piecewise
    graphs; running sequences otherwise). SGLang 256 with 64 sequences: 64."""
    return min(profile_max, token_budget if by_tokens else max_num_seqs)


def symmetric_range(input_len: int, ratio: float) -> tuple[int, float]:
    """A client that draws lengths in [L'(1-q), L'(1+q)] (vLLM's --random-range-ratio)
    reproduces inferplan's [rL, L] with L' = L(1+r)/2 and q = (1-r)/(1+r).
    L = 1024, r = 0.8: L' = 921.6 → 922, q = 0.2/1.8 = 0.1111."""
    return round(input_len * (1.0 + ratio) / 2.0), (1.0 - ratio) / (1.0 + ratio)


def bench_concurrency(workload: Workload, max_num_seqs: int) -> int:
    """Clients of the closed-loop benchmark: the workload's concurrency, else its static
    batch, else (`max`, or an open-loop workload) the running-sequence cap."""
    if workload.concurrency is not None:
        return workload.concurrency
    if isinstance(workload.batch, int):
        return workload.batch
    return max_num_seqs


# ------------------------------------------------------------------ checks
def export_engine_name(requested: str | None, scenario_engine: str) -> str:
    """--engine, else the scenario's engine when it is one export writes; else an error."""
    name = requested if requested is not None else scenario_engine
    if name not in EXPORT_ENGINES:
        what = "--engine" if requested is not None else "engine"
        raise InferplanError(what, name, f"allowed: {', '.join(EXPORT_ENGINES)}")
    return name


def check_runs_on(flags: EngineFlags, engine: str, deployment: Deployment) -> None:
    """Refuse a chip the engine's build does not serve (vLLM on RNGD or TPU)."""
    chip = deployment.chip
    if chip.kind not in flags.runs_on.kinds or chip.vendor not in flags.runs_on.vendors:
        raise InferplanError(
            "--engine", engine,
            f"{engine} {flags.version} does not run on {chip.name} ({chip.vendor} "
            f"{chip.kind}); it runs on {', '.join(flags.runs_on.vendors)} "
            f"{'/'.join(flags.runs_on.kinds)}s")


def check_fits(deployment: Deployment, workload: Workload, batch: int, best: int) -> None:
    """Refuse a deployment whose memory at `batch` sequences exceeds usable memory."""
    mem = memory_breakdown(deployment, workload, max(batch, 1))
    if best >= batch and bool(mem.fits):
        return
    total = float(mem.total_bytes_per_chip) / 2**30
    usable = mem.usable_bytes_per_chip / 2**30
    raise InferplanError(
        "deployment", f"{deployment.model.name} on {deployment.chips}x {deployment.chip.name}",
        f"does not fit: {total:.1f} GiB per chip at {max(batch, 1)} sequences of "
        f"{workload.context_len} tokens, {usable:.1f} GiB usable; largest batch {best}")


def dtype_value(flags: EngineFlags, engine: str, kind: str, dtype: str) -> str | None:
    """The engine's value for a dtype setting; None where it takes no flag (bf16 weights);
    an error for a KV dtype the engine cannot store."""
    values = flags.values.get(kind, {})
    if dtype in values:
        return values[dtype]
    if kind == "kv_dtype":
        raise InferplanError("dtypes.kv", dtype,
                             f"{engine} stores KV as {', '.join(sorted(values))}")
    return None


# ------------------------------------------------------------------ speculative
#: What each kind of draft is called in messages.
DRAFT_KINDS = {"mtp": "MTP", "draft": "draft-model"}


def mtp_method(model_name: str) -> str:
    """vLLM's speculative method for a checkpoint's MTP module: `deepseek_mtp` for the
    DeepSeek family (vLLM's MTP_MODEL_TYPES), `mtp` otherwise."""
    return "deepseek_mtp" if model_name.startswith("deepseek") else "mtp"


def _render(template: str, values: dict[str, str]) -> str | int:
    text = template.format(**values)
    return int(text) if text.isdigit() else text


def speculative_launch(flags: EngineFlags, engine: str, deployment: Deployment
                       ) -> tuple[list[str], dict[str, Any], dict[str, object] | None]:
    """The serve flags and extra options of the deployment's speculative decoding (none
    when it has none); an `InferplanError` naming `speculative.draft` for a kind of draft
    the engine's export does not have.

    MTP with gamma 3 on SGLang: --speculative-algorithm EAGLE --speculative-num-steps 3
    --speculative-eagle-topk 1 --speculative-num-draft-tokens 4."""
    spec = deployment.speculative
    if spec is None:
        return [], {}, None
    mtp = spec.draft.name == f"{deployment.model.name}-mtp"
    kind: Literal["mtp", "draft"] = "mtp" if mtp else "draft"
    how = flags.speculative.get(kind)
    if how is None:
        raise InferplanError(
            "speculative.draft", "mtp" if mtp else spec.draft.name,
            f"{engine} {flags.version} export has no {DRAFT_KINDS[kind]} speculative "
            "decoding"
            + (f": {flags.speculative_missing}" if flags.speculative_missing else "")
            + f"; kinds it has: {', '.join(flags.speculative) or 'none'}")
    entry = model_catalog().get(spec.draft.name)
    draft_id = entry.hf_repo if entry is not None and entry.hf_repo else spec.draft.name
    values = {"gamma": str(spec.gamma), "gamma_plus_1": str(spec.gamma + 1),
              "draft_model": draft_id, "mtp_method": mtp_method(deployment.model.name)}
    argv: list[str] = []
    for flag, template in how.flags.items():
        argv += [flag, str(_render(template, values))]
    if how.json_flag is not None:
        argv += [how.json_flag, json.dumps({k: _render(v, values)
                                            for k, v in how.json_value.items()})]
    options: dict[str, Any] = {}
    for key, template in how.options.items():
        _put(options, key, _render(template, values))
    return argv, options, {"draft": "mtp" if mtp else draft_id, "kind": kind,
                           "gamma": spec.gamma, "alpha": spec.alpha}


def attention_dp_launch(flags: EngineFlags, engine: str, deployment: Deployment
                        ) -> tuple[list[str], dict[str, Any]]:
    """The serve flags and extra options of the deployment's data-parallel attention (none
    without it); an `InferplanError` naming `parallelism.attention_dp` where the engine
    cannot launch it. SGLang, tp 8 with 8 ranks: --dp-size 8 --enable-dp-attention (and
    --tp-size 8); vLLM: --data-parallel-size 8 --enable-expert-parallel (and
    --tensor-parallel-size 1)."""
    lay = deployment.layout
    if lay.attention_dp == 1:
        return [], {}
    how = flags.attention_dp
    if how is None:
        raise InferplanError("parallelism.attention_dp", lay.attention_dp,
                             f"{engine} {flags.version} export has no data-parallel "
                             "attention; use 1")
    if how.ranks_equal_tp and lay.attention_dp != lay.tp:
        raise InferplanError("parallelism.attention_dp", lay.attention_dp,
                             f"{engine}'s data-parallel attention spans every tp rank: "
                             f"must equal tp={lay.tp}")
    values = {"ranks": str(lay.attention_dp), "attention_tp": str(lay.attention_tp)}
    argv: list[str] = []
    for flag, template in how.flags.items():
        argv += [flag] if template == "" else [flag, str(_render(template, values))]
    options: dict[str, Any] = {}
    for key, template in how.options.items():
        _put(options, key, True if template == "true" else _render(template, values))
    return argv, options


# ------------------------------------------------------------------ plan
def hf_model_id(deployment: Deployment) -> str:
    """The checkpoint to load: the catalog's HF repo, else the model's own name."""
    entry = model_catalog().get(deployment.model.name)
    return entry.hf_repo if entry is not None and entry.hf_repo else deployment.model.name


def plan_export(deployment: Deployment, workload: Workload, engine: str) -> ExportPlan:
    """The launch settings, command, extra options and benchmark command of `engine`."""
    flags = flag_table()[engine]
    check_runs_on(flags, engine, deployment)
    if deployment.engine.name != engine:
        deployment = dataclasses.replace(deployment, engine=engine_profile(engine))
    sched = deployment.engine.scheduler
    best = max_batch(deployment, workload)
    seqs = max_running_sequences(sched.max_num_seqs, best)
    concurrency = bench_concurrency(workload, seqs)
    check_fits(deployment, workload, concurrency, best)
    lay, dt = deployment.layout, deployment.dtypes
    f = flags.flags
    adp_argv, adp_options = attention_dp_launch(flags, engine, deployment)
    # with DP attention the tp flag counts one rank's GPUs where the engine says so, and
    # replicas are separate servers (the engine's DP flag now counts attention ranks)
    launched = bool(adp_argv or adp_options)
    per_rank = flags.attention_dp is not None and flags.attention_dp.tp == "per_rank"
    tp = lay.attention_tp if launched and per_rank else lay.tp
    replicas = FlagSpec(flag=None, source=f["dp"].source) if launched else f["dp"]
    settings = [Setting("tp", tp, f["tp"]), Setting("pp", lay.pp, f["pp"]),
                Setting("dp", lay.dp, replicas), Setting("ep", lay.ep, f["ep"]),
                Setting("max_num_seqs", seqs, f["max_num_seqs"]),
                Setting("token_budget", deployment.token_budget, f["token_budget"])]
    if "chunked_prefill" in f:
        settings.append(Setting("chunked_prefill", sched.chunked_prefill, f["chunked_prefill"]))
    settings.append(Setting("kv_dtype", dtype_value(flags, engine, "kv_dtype", dt.kv),
                            f["kv_dtype"]))
    settings.append(Setting("weights", dtype_value(flags, engine, "weights", dt.weights),
                            f["weights"]))
    settings.append(Setting("compute", dtype_value(flags, engine, "compute", dt.compute),
                            f["compute"]))
    settings.append(Setting("max_model_len", max_model_len_tokens(workload), f["max_model_len"]))
    graph = cuda_graph_capture_size(sched.cuda_graph_max_batch, seqs,
                                    deployment.token_budget, sched.prompt_graphs)
    settings.append(Setting("cuda_graph_max", graph if sched.cuda_graphs else None,
                            f["cuda_graph_max"]))
    notes = _notes(engine, deployment, dt.weights, flags)
    model = hf_model_id(deployment)
    spec_argv, spec_options, speculative = speculative_launch(flags, engine, deployment)
    serve, extra = _serve_argv(flags, model, settings, sched.chunked_prefill,
                               adp_argv + spec_argv, {**adp_options, **spec_options})
    return ExportPlan(engine=engine, engine_version=flags.version, model=model,
                      settings=tuple(settings), serve_argv=tuple(serve), extra_options=extra,
                      bench_argv=tuple(_bench_argv(flags.bench, model, workload, concurrency)),
                      notes=tuple(notes), max_batch=best, concurrency=concurrency,
                      speculative=speculative)


def _notes(engine: str, deployment: Deployment, weights: str, flags: EngineFlags) -> list[str]:
    out = []
    if weights not in ("bf16", "fp16") and weights not in flags.values.get("weights", {}):
        out.append(f"weights {weights}: {engine} has no load-time flag for it; load a "
                   f"checkpoint already quantised to {weights}")
    if (flags.flags["dp"].flag is None or deployment.layout.attention_dp > 1) \
            and deployment.layout.dp > 1:
        out.append(f"dp={deployment.layout.dp}: launch {deployment.layout.dp} copies of this "
                   "server behind a load balancer")
    if engine == "vllm" and deployment.layout.ep > 1 and deployment.layout.attention_dp == 1 \
            and deployment.layout.ep != deployment.layout.tp * deployment.layout.dp:
        out.append(f"vLLM's expert-parallel size is tp*dp = "
                   f"{deployment.layout.tp * deployment.layout.dp}, not ep={deployment.layout.ep}")
    return out


def _serve_argv(flags: EngineFlags, model: str, settings: list[Setting], chunked: bool,
                extra_argv: list[str], extra_options: dict[str, Any]
                ) -> tuple[list[str], dict[str, Any]]:
    argv = list(flags.serve)
    if flags.model_positional:
        argv.append(model)
    elif flags.model_flag is not None and flags.model_flag.flag is not None:
        argv += [flags.model_flag.flag, model]
    extra: dict[str, Any] = {}
    for s in settings:
        spec = s.flag
        if s.name == "cuda_graph_max" and s.value is None:
            off = flags.flags.get("no_cuda_graphs")
            if off is not None and off.flag is not None:
                argv.append(off.flag)
            continue
        if s.value is None:
            continue
        if spec.option is not None:
            _put(extra, spec.option, s.value)
            continue
        if spec.flag is None:
            continue
        if spec.switch:
            if (s.name == "ep" and s.value != 1) or (s.name == "chunked_prefill" and chunked):
                argv.append(spec.flag)
            continue
        if s.name in ("pp", "dp", "ep") and s.value == 1:
            continue
        if s.name == "token_budget" and spec.flag == "--chunked-prefill-size" and not chunked:
            argv += [spec.flag, "-1"]
            continue
        value = json.dumps({spec.json_key: s.value}) if spec.json_key else str(s.value)
        argv += [spec.flag, value]
    argv += extra_argv
    extra.update(extra_options)
    if extra:
        extra_flag = flags.flags["extra_options"].flag
        assert extra_flag is not None
        argv += [extra_flag, EXTRA_OPTIONS_FILE]
    return argv, extra


#: The file name of TensorRT-LLM's extra options YAML that `--out` writes.
EXTRA_OPTIONS_FILE = "extra_llm_api_options.yaml"


def _put(tree: dict[str, Any], dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _bench_argv(bench: BenchSpec, model: str, workload: Workload, concurrency: int) -> list[str]:
    ratio = workload.length_ratio
    if bench.range == "symmetric":
        input_len, q = symmetric_range(workload.input_len, ratio)
        output_len, _ = symmetric_range(workload.output_len, ratio)
    else:
        input_len, output_len, q = workload.input_len, workload.output_len, ratio
    prompts = workload.requests or 10 * concurrency
    f = bench.flags
    pairs = [("model", model), ("input_len", input_len), ("output_len", output_len),
             ("range_ratio", f"{q:.4g}"), ("concurrency", concurrency),
             ("num_prompts", prompts)]
    argv = list(bench.command)
    for key, value in pairs:
        flag = f[key].flag
        assert flag is not None
        argv += [flag, str(value)]
    return argv
