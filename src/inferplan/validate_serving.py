"""Closed-loop serving runs of today's engines (`serving_dev.csv`) against predictions,
with NVIDIA aiconfigurator's own predictions of the same rows beside ours.

A row (model, GPU, engine, quantisation, tp/pp, attention-DP, MoE split, ISL/OSL,
concurrency per replica, client protocol) becomes a scenario with `engine:` and a
`concurrency:` workload whose lengths follow the client (`inferencemax`: uniform in
[0.8·L, L]); an `inferencemax` row's engine block and KV dtype are those of the InferenceX
launch script it ran (data/validation/inferencex_recipes.yaml), and a disaggregated
`inferencemax` row's pools each get the engine block of the srt-slurm recipe it ran
(data/validation/inferencex_disagg_recipes.yaml); `serving.closed_loop`
predicts its mean TTFT and TPOT. Rows that cannot be
mapped are kept with the reason. Errors are absolute percentage errors |pred − meas|/meas;
MAPE is their mean, as the peer reports it.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from inferplan.deployment import Deployment, Workload
from inferplan.hardware import ChipSpec
from inferplan.memory import max_batch
from inferplan.models import ModelSpec, model_catalog
from inferplan.scenario import build_deployment, build_pools, parse_scenario
from inferplan.serving import closed_loop
from inferplan.units import InferplanError, parse_bundled_yaml
from inferplan.validation import map_and_predict, read_csv_rows

REQUIRED_COLUMNS = ("id", "backend", "model_path", "system", "mode", "isl", "osl",
                    "gemm_quant_mode", "batch_size", "tp_size", "pp_size",
                    "attention_dp_size", "moe_tp_size", "moe_ep_size", "client_protocol",
                    "silicon_ttft_ms", "silicon_tpot_ms")


#: (mapping table, row column, reason when the value is not in it), looked up in turn
LOOKUPS = (("models", "model_path", "model '{}' is not in the catalog mapping"),
           ("hardware", "system", "system '{}' is not in the catalog mapping"),
           ("engines", "backend", "backend '{}' has no engine profile"),
           ("quant", "gemm_quant_mode", "quantisation '{}' is not mapped"))


@cache
def serving_mapping() -> dict[str, Any]:
    """Names, dtypes and protocols of the bundled serving rows (data/validation)."""
    path = resources.files("inferplan") / "data" / "validation" / "serving_mapping.yaml"
    data: dict[str, Any] = parse_bundled_yaml(path.read_text("utf-8"))
    return data


@cache
def inferencex_recipes() -> list[dict[str, Any]]:
    """The InferenceX launch-script flags behind the `inferencemax` rows
    (data/validation/inferencex_recipes.yaml: match conditions, `engine:` block, KV dtype)."""
    path = resources.files("inferplan") / "data" / "validation" / "inferencex_recipes.yaml"
    data: list[dict[str, Any]] = parse_bundled_yaml(path.read_text("utf-8"))
    return data


#: the integer arithmetic a recipe may write (bash $(( )) of the scripts)
_ARITHMETIC: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv}


def recipe_value(value: Any, env: Mapping[str, int]) -> Any:
    """A recipe value for one run: a number or flag as written (a word that names none of
    `env`, such as "mxfp8", stays a word), or a script's integer arithmetic over `env`
    (conc, isl, osl, tp) with + - * // min max, e.g. "2 * isl"."""
    if not isinstance(value, str):
        return value
    if value.isidentifier() and value not in env and value not in ("min", "max"):
        return value

    def ev(node: ast.expr) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name) and node.id in env:
            return env[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return _ARITHMETIC[type(node.op)](ev(node.left), ev(node.right))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args
                and node.func.id in ("min", "max") and not node.keywords):
            return (min if node.func.id == "min" else max)(ev(a) for a in node.args)
        raise InferplanError("inferencex_recipes.yaml", value,
                             f"integer arithmetic (+ - * // min max) over {', '.join(env)}")

    return ev(ast.parse(value, mode="eval").body)


def recipe_env(row: Mapping[str, str], concurrency: int, tp: int) -> dict[str, int]:
    """The names a recipe's arithmetic reads (`recipe_value`) for one run: its client
    concurrency, ISL, OSL and tp. A 1024/128 run of 8 clients at tp 2: {"conc": 8,
    "isl": 1024, "osl": 128, "tp": 2}."""
    return {"conc": concurrency, "isl": int(row["isl"]), "osl": int(row["osl"]), "tp": tp}


#: Where aiconfigurator's gap-analysis runs name their source file (silicon_data_source)
GAP_ANALYSIS_SOURCE = "aic-auto-gap-analysis/"


def generated_engine(row: Mapping[str, str], engine: str, concurrency: int) -> dict[str, Any]:
    """The scheduler limits aiconfigurator's config generator set for a run of its gap
    analysis: an agg `aiperf-fixed?` row whose source file lies under
    aic-auto-gap-analysis/ and names no Dynamo image (serving_mapping.yaml
    `generated_engines`, the entry of the row's engine, its values worked out for the run);
    {} for every other row. TensorRT-LLM 1.0.0rc3, Qwen3-32B, 1024/128 at 8 clients:
    {"max_num_batched_tokens": 2532, "max_num_seqs": 8} (8 + 1024 + 1500)."""
    source = row.get("silicon_data_source", "")
    if (row["client_protocol"] != "aiperf-fixed?" or row["mode"] != "agg"
            or GAP_ANALYSIS_SOURCE not in source or "image=" in source):
        return {}
    env = recipe_env(row, concurrency, _int(row["tp_size"]))
    for entry in serving_mapping().get("generated_engines", []):
        if entry["engine"] == engine:
            return {k: recipe_value(v, env) for k, v in entry["set"].items()}
    return {}


def stated_concurrency(row: Mapping[str, str]) -> int | None:
    """The run's client concurrency as its source states it (`silicon_concurrency=N` in
    `silicon_data_source`), or None where it does not."""
    found = re.search(r"silicon_concurrency=(\d+)", row.get("silicon_data_source", ""))
    return int(found.group(1)) if found else None


#: Why a gap-analysis row without a stated client concurrency is not scored
UNKNOWN_CONCURRENCY = (
    "the source states no client concurrency (no silicon_concurrency=): in aiconfigurator's "
    "gap-analysis runs batch_size is then the engine's max batch size, and each "
    "configuration was benchmarked at several concurrencies")


def unknown_concurrency(row: Mapping[str, str]) -> bool:
    """Whether a row is an aiconfigurator gap-analysis run (source under
    aic-auto-gap-analysis/) whose source does not state its client concurrency (a blank
    concurrency in the id, "_c_"). Such a row's batch_size (decode_batch_size for a
    disaggregated one) is the max batch size the configuration was deployed with, not the
    clients of the measured run: aiconfigurator's benchmark script
    (generator/config/backend_templates/benchmark/bench_run.sh.j2) runs every configuration
    at 1, 2, 8, 16, 32, 64 and 128 clients and at workers × max_batch_size × 0.95/1/1.05,
    and the row does not say which. The rows' own figures show it: Qwen3-32B fp8, vLLM
    0.12, tp 2, 4000/1000 tokens, batch_size 48, measured TPOT 11.6 ms, where one
    decode-only step of 48 sequences at 4,500 tokens of context reads 9.4 ms of KV and
    5.8 ms of weights (inferplan: 21.3 ms) and its TTFT (185 ms) is that of one or two
    clients; DeepSeek-R1 on GB200 at batch_size 28 waited 39.7 s for its first token.
    A closed loop needs its C, so these rows (12 agg, 7 disaggregated in serving_dev.csv)
    are not scored; a row with silicon_concurrency= stated, or from any other source,
    is."""
    return (GAP_ANALYSIS_SOURCE in row.get("silicon_data_source", "")
            and stated_concurrency(row) is None)


def release_tuple(version: str) -> tuple[int, ...] | None:
    """A release string's leading numbers: "0.12.0" → (0, 12, 0), "1.2.0rc6.post1" →
    (1, 2, 0); None for blank or named builds ("nightly-dev", "gpt-oss-dev")."""
    found = re.match(r"(\d+(?:\.\d+)*)", version.strip())
    return tuple(int(x) for x in found.group(1).split(".")) if found else None


def engine_version_defaults(engine: str, version: str, model: str = "") -> dict[str, Any]:
    """The engine settings a row's engine release ran with where they differ from the
    bundled profile's version (serving_mapping.yaml `engine_versions`: the rules of the
    engine whose `below` is newer than the release and whose `models`, where a rule names
    them, hold the row's catalog model); {} where none applies or the release is not a
    number. vllm 0.12.0: {"overlap_scheduling": False}; sglang 0.5.9 serving
    qwen3.5-397b-a17b: {"linear_attention_gemms": 5}."""
    release = release_tuple(version)
    if release is None:
        return {}
    out: dict[str, Any] = {}
    for rule in serving_mapping().get("engine_versions", []):
        below = release_tuple(str(rule["below"]))
        if (rule["engine"] == engine and below is not None and release < below
                and model in rule.get("models", [model])):
            out = {**dict(rule["set"]), **out}
    return out


def engine_name(scenario: Mapping[str, Any]) -> str:
    """A mapped scenario's engine profile name, its `engine:` a name or a block."""
    engine = scenario["engine"]
    return str(engine if isinstance(engine, str) else engine["name"])


def inferencex_recipe(row: Mapping[str, str], scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario fields the InferenceX launch script set for an agg `inferencemax` row:
    the first entry of `inferencex_recipes()` that fits the row (model, chip, engine, weight
    dtype, tp, attention DP, ISL/OSL, the run's concurrency, the measured= date) gives its
    `engine:` block and KV dtype, and for a run of an MTP script (`mtp_draft_tokens`) a
    `speculative:` block with the checkpoint's MTP module, γ the script's draft tokens and
    α the mapping's `mtp_acceptance`; {"skip": reason} where the entry says the run's
    setting cannot be known from the row; {} for other rows and where no entry fits."""
    if row["client_protocol"] != "inferencemax" or row["mode"] != "agg":
        return {}
    stated = stated_concurrency(row)
    measured = re.search(r"measured=(\d{4}-\d\d-\d\d)", row.get("silicon_data_source", ""))
    day = measured.group(1) if measured else ""
    env = recipe_env(row, stated if stated is not None else scenario["workload"]["concurrency"],
                     scenario["parallelism"]["tp"])
    dtypes = scenario["dtypes"]
    facts = {"model": scenario["model"], "hardware": scenario["hardware"],
             "precision": dtypes.get("experts") or dtypes["weights"],   # the script's name
             "tp": env["tp"], "isl": env["isl"], "osl": env["osl"],
             "attention_dp": _int(row["attention_dp_size"]) > 1}
    engine = engine_name(scenario)
    for entry in inferencex_recipes():
        conc_fits = entry.get("conc_min", 0) <= env["conc"] <= entry.get("conc_max", env["conc"])
        day_fits = entry.get("measured_from", "") <= day <= entry.get("measured_to", "9999-12-31")
        if (entry["engine"]["name"] == engine and conc_fits and day_fits
                and all(facts[k] in (v if isinstance(v, list) else [v])
                        for k, v in entry.items() if k in facts)):
            if "skip" in entry:           # the run's setting is not knowable from the row
                return {"skip": f"{entry['skip']} ({entry['source']})"}
            kv = entry.get("kv", scenario["dtypes"]["kv"])
            fields: dict[str, Any] = {
                "engine": {k: v if k == "name" else recipe_value(v, env)
                           for k, v in entry["engine"].items()},
                "dtypes": {**scenario["dtypes"], "kv": kv}}
            if "mtp_draft_tokens" in entry:
                fields["speculative"] = {"draft": "mtp", "gamma": entry["mtp_draft_tokens"],
                                         "alpha": serving_mapping()["mtp_acceptance"]}
            return fields
    return {}


@cache
def inferencex_disagg_recipes() -> list[dict[str, Any]]:
    """The per-pool engine flags of the disaggregated InferenceX runs
    (data/validation/inferencex_disagg_recipes.yaml: match conditions, each pool's
    `engine:` block, the srt-slurm recipe path@commit)."""
    path = (resources.files("inferplan") / "data" / "validation"
            / "inferencex_disagg_recipes.yaml")
    data: list[dict[str, Any]] = parse_bundled_yaml(path.read_text("utf-8"))
    return data


def inferencex_pool_engines(row: Mapping[str, str],
                            scenario: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each pool's `engine:` block for a disaggregated `inferencemax` row: the first entry
    of `inferencex_disagg_recipes()` that fits the row (model, chip, weight or expert
    dtype, engine, backend_version, ISL/OSL, and each pool's workers, tp and attention DP
    as the scenario's `disaggregated:` block holds them) gives {"prefill": block,
    "decode": block}; {} for other rows and where no entry fits. A DeepSeek-R1 FP8 row on
    GB200 with 2 prefill workers of DEP8 and one decode worker of DEP32 at 1k/1k (SGLang
    0.5.8.post1) gets the max-tpt recipe's prefill chunk of 131,072 tokens (16,384 a DP
    rank) and decode CUDA graphs up to 768 sequences a rank."""
    pools = scenario.get("disaggregated")
    if row["client_protocol"] != "inferencemax" or row["mode"] != "disagg" or not pools:
        return {}
    dtypes = scenario["dtypes"]
    facts = {"model": scenario["model"], "hardware": scenario["hardware"],
             "precision": dtypes.get("experts") or dtypes["weights"],
             "engine": engine_name(scenario), "versions": row.get("backend_version", ""),
             "isl": int(row["isl"]), "osl": int(row["osl"])}
    layouts = {name: {"workers": pools[name]["parallelism"]["dp"],
                      "tp": pools[name]["parallelism"]["tp"],
                      "attention_dp": pools[name]["parallelism"].get("attention_dp", 1)}
               for name in ("prefill", "decode")}
    for entry in inferencex_disagg_recipes():
        if (all(facts[k] in (v if isinstance(v, list) else [v])
                for k, v in entry.items() if k in facts)
                and all(entry[name] == layouts[name] for name in layouts)):
            return {name: dict(entry[f"{name}_engine"]) for name in layouts}
    return {}


def bundled_serving_text() -> str:
    """The bundled copy of shared/validation/serving_dev.csv."""
    return (resources.files("inferplan") / "data" / "validation"
            / "serving_dev.csv").read_text("utf-8")


def read_serving_rows(text: str, origin: str = "serving runs") -> list[dict[str, str]]:
    """CSV text → rows; a missing column is an error naming it."""
    return read_csv_rows(text, origin, REQUIRED_COLUMNS)


def is_serving_csv(text: str) -> bool:
    """Whether a CSV's header is that of serving runs (`silicon_tpot_ms`)."""
    return "silicon_tpot_ms" in text.split("\n", 1)[0]


@dataclass(frozen=True)
class ServingCase:
    """One measured serving run mapped to a scenario, with our prediction once made."""

    row_id: str
    group: str                        # "model on chip, engine"
    dense: bool
    scenario: dict[str, Any]
    ttft_s: float
    tpot_s: float
    peer_ttft_s: float | None         # aiconfigurator 0.12's prediction of the row
    peer_tpot_s: float | None
    pred_ttft_s: float = float("nan")
    pred_tpot_s: float = float("nan")
    disaggregated: bool = False       # prefill and decode pools (`scenario.disaggregated`)


@dataclass(frozen=True)
class ServingSkip:
    row_id: str
    reason: str


def _int(text: str, default: int = 1) -> int:
    """A count column: blank or 0 → `default`."""
    value = int(float(text)) if text.strip() else 0
    return value if value > 0 else default


def _optional_s(text: str) -> float | None:
    return float(text) / 1e3 if text.strip() else None


#: a disaggregated row that is not simulated (the closed form) or cannot be mapped
DISAGG_SKIP = "disaggregated pools under load: the simulator's rows (--simulate)"


def _layout(row: Mapping[str, str], prefix: str = "") -> dict[str, Any]:
    """A row's (or one pool's, with `prefix` "prefill_"/"decode_") tp, pp and ep.

    Attention data parallelism (SGLang/vLLM/TRT-LLM DP attention): adp ranks each run
    attention for their own requests on tp_size GPUs, the MoE spans all tp·adp GPUs: a
    tp·adp group with `attention_dp` adp (parallel.Layout): KV split by batch, the
    attention weights replicated per rank, one scheduler per rank.
    """
    adp = _int(row[f"{prefix}attention_dp_size"])
    return {"tp": _int(row[f"{prefix}tp_size"]) * adp, "pp": _int(row[f"{prefix}pp_size"]),
            "ep": _int(row[f"{prefix}moe_ep_size"]), "layout": "megatron",
            **({"attention_dp": adp} if adp > 1 else {})}


def deflated(layout: dict[str, Any], node_gpus: int | None) -> dict[str, Any]:
    """A single-node row's layout with the source's tp·ep count undone: the source's mapper
    counted tp·ep GPUs per replica for single-node MoE runs (serving-engines.md §5; the
    rows' `layout_caveat`), so a recorded tp above the node's GPUs that ep divides is tp·ep,
    and the run's tp is tp/ep. B200 (8-GPU node), recorded tp 64 with ep 8: tp 8 ep 8;
    tp 16 with ep 4: tp 4 ep 4. Other layouts unchanged."""
    tp, ep = layout["tp"], layout["ep"]
    if (node_gpus is None or "attention_dp" in layout or tp <= node_gpus or ep < 2 or tp % ep
            or tp // ep > node_gpus):       # (attention-DP rows' counts are not this pattern)
        return layout
    return {**layout, "tp": tp // ep}


def experts_only_quantised(model: str) -> bool:
    """Whether the catalog checkpoint quantises only its routed experts: its config's
    `quantization_config.modules_to_not_convert` keeps the attention unconverted
    (openai/gpt-oss-120b: self_attn, router, embed_tokens and lm_head stay bf16; the
    experts are MXFP4), so the dense GEMMs run in bf16 whatever the row's quant label."""
    entry = model_catalog().get(model)
    quant = entry.config.get("quantization_config") if entry is not None else None
    kept = quant.get("modules_to_not_convert", []) if isinstance(quant, dict) else []
    return any("self_attn" in str(module) for module in kept)


def disaggregated_concurrency(row: Mapping[str, str]) -> int | None:
    """Clients of a disaggregated row: decode_batch_size per attention rank × the decode
    workers' attention ranks × decode_num_workers (None: the counts are blank). A row of
    decode batch 64, attention DP 32, one worker: 2048 (its source's
    silicon_concurrency=2048)."""
    if not (row["decode_batch_size"].strip() and row["decode_num_workers"].strip()):
        return None
    return (_int(row["decode_batch_size"]) * _int(row["decode_num_workers"])
            * _int(row["decode_attention_dp_size"]))


def _pools(row: Mapping[str, str]) -> dict[str, Any] | str:
    """The `disaggregated:` block of a row (each pool: its workers × the worker's layout,
    workers as dp), or the reason it cannot be built."""
    block: dict[str, Any] = {"kv_link": "scale_out", "router": "round_robin"}
    for pool in ("prefill", "decode"):
        workers = _int(row[f"{pool}_num_workers"], 0)
        if workers < 1:
            return f"disaggregated row without {pool}_num_workers"
        layout = _layout(row, f"{pool}_")
        block[pool] = {"chips": layout["tp"] * layout["pp"] * workers,
                       "parallelism": {**layout, "dp": workers}}
    return block


def map_serving_row(row: Mapping[str, str]) -> ServingCase | ServingSkip:
    """A serving row → a `ServingCase` (scenario, measured TTFT/TPOT in s) or the reason not.
    A disaggregated row (`mode` disagg) becomes a scenario with a `disaggregated:` block:
    the prefill_*/decode_* columns give each pool's layout and workers, and
    `disaggregated_concurrency` its clients, and `inferencex_pool_engines` each pool's
    engine where the row's recipe is known."""
    table = serving_mapping()
    rid = row["id"]
    disagg = row["mode"] == "disagg"
    if row["mode"] not in ("agg", "disagg"):
        return ServingSkip(rid, f"mode '{row['mode']}' is not mapped")
    if unknown_concurrency(row):
        return ServingSkip(rid, ("disaggregated row: " if disagg else "") + UNKNOWN_CONCURRENCY)
    found = []
    for key, column, missing in LOOKUPS:
        value = table[key].get(row[column])
        if value is None:
            return ServingSkip(rid, ("disaggregated row: " if disagg else "")
                               + missing.format(row[column]))
        found.append(value)
    model, chip, engine, quant = found
    kv_rules = table["kv"]
    kv = kv_rules.get(quant["weights"], kv_rules.get(f"{engine}_{quant['weights']}",
                                                      kv_rules["default"]))
    protocol = table["protocols"].get(row["client_protocol"])
    if protocol is None:
        return ServingSkip(rid, ("disaggregated row: " if disagg else "")
                           + f"client protocol '{row['client_protocol']}' is not mapped")
    extra: dict[str, Any] = {}
    if disagg:
        pools = _pools(row)
        clients = disaggregated_concurrency(row)
        if isinstance(pools, str) or clients is None:
            return ServingSkip(rid, pools if isinstance(pools, str) else
                               "disaggregated row without decode_batch_size")
        stated = stated_concurrency(row)
        if stated is not None and stated != clients:
            return ServingSkip(rid, "disaggregated row: decode batch x workers x attention "
                                    "DP differs from its silicon_concurrency")
        layout = pools["decode"]["parallelism"]
        chips = pools["decode"]["chips"]
        extra = {"disaggregated": pools}
    else:
        layout = deflated({**_layout(row), "dp": 1}, table["node_gpus"].get(row["system"]))
        chips = layout["tp"] * layout["pp"]
        clients = _int(row["batch_size"]) * _int(row["attention_dp_size"])
        stated = stated_concurrency(row)
        if stated is not None and clients > stated:
            return ServingSkip(rid, "batch_size x attention DP exceeds the run's "
                                    "silicon_concurrency (the recorded layout is inflated)")
    experts = table["experts"].get(row.get("moe_quant_mode", ""))
    dense = quant
    if experts is not None and experts_only_quantised(model):
        # the checkpoint's own dtypes: bf16 dense GEMMs, and no KV quantisation of its own
        # (the fp4 -> fp8 KV rule is ModelOpt's kv_cache_quant_algo); a script's KV flag
        # still applies (inferencex_recipe)
        dense, kv = {"weights": "bf16", "compute": "bf16"}, kv_rules["default"]
    own = table["nvfp4_attention"].get(model) if row["gemm_quant_mode"] == "nvfp4" else None
    scenario = {
        "name": rid, "model": model, "hardware": chip, "chips": chips,
        "parallelism": layout,
        "dtypes": {"weights": dense["weights"], "kv": kv, "compute": dense["compute"],
                   **({"experts": experts} if experts is not None else {}),
                   **(own["set"] if own is not None else {})},
        "engine": engine, "efficiency": "realistic",
        "workload": {"input_len": int(row["isl"]), "output_len": int(row["osl"]),
                     "concurrency": clients, **protocol}, **extra}
    recipe = inferencex_recipe(row, scenario)
    if "skip" in recipe:
        return ServingSkip(rid, str(recipe["skip"]))
    scenario.update(recipe)
    generated = generated_engine(row, engine, clients)
    if generated:
        scenario["engine"] = {"name": engine, **generated}
    version_rule = engine_version_defaults(engine_name(scenario), row.get("backend_version", ""),
                                           scenario["model"])
    if version_rule:
        base = scenario["engine"]
        block = {"name": base} if isinstance(base, str) else dict(base)
        scenario["engine"] = {**version_rule, **block}     # a recipe's own flags win
    for pool, block in inferencex_pool_engines(row, scenario).items():
        scenario["disaggregated"][pool]["engine"] = block
    return ServingCase(
        row_id=rid, group=f"{model} on {chip}, {engine}" + (" (disagg)" if disagg else ""),
        dense=model in table["dense_models"], scenario=scenario,
        ttft_s=float(row["silicon_ttft_ms"]) / 1e3, tpot_s=float(row["silicon_tpot_ms"]) / 1e3,
        peer_ttft_s=_optional_s(row.get("aic_ttft_ms", "")),
        peer_tpot_s=_optional_s(row.get("aic_tpot_ms", "")), disaggregated=disagg)


#: (deployment, closed-loop workload) -> (mean TTFT, mean TPOT) in seconds
Predictor = Callable[[Deployment, Workload], tuple[float, float]]


#: (prefill pool, decode pool, closed-loop workload) -> (mean TTFT, mean TPOT) in seconds
PoolPredictor = Callable[[Deployment, Deployment, Workload], tuple[float, float]]


def closed_form(deployment: Deployment, workload: Workload) -> tuple[float, float]:
    """Mean TTFT and TPOT of `serving.closed_loop` at the workload's concurrency."""
    loop = closed_loop(deployment, workload, workload.concurrency or 1)
    return float(loop.ttft_s), float(loop.tpot_s)


def predict_serving(case: ServingCase, resolve_model: Callable[[str], ModelSpec],
                    resolve_chip: Callable[[str], ChipSpec],
                    predict: Predictor = closed_form,
                    predict_pools: PoolPredictor | None = None) -> ServingCase | ServingSkip:
    """Mean TTFT and TPOT of the row's closed loop; an impossible scenario is skipped.
    Disaggregated rows go to `predict_pools` (None: skipped, `DISAGG_SKIP`).

    A quantisation the chip cannot compute in (fp4 on Hopper: gpt-oss's MXFP4 experts)
    runs weight-only, with bf16 arithmetic, as the engines' Marlin/MXFP4 kernels do there.
    """
    dtypes = case.scenario["dtypes"]
    if dtypes["compute"] not in resolve_chip(case.scenario["hardware"]).peak_flops_per_s:
        case = replace(case, scenario={**case.scenario,
                                       "dtypes": {**dtypes, "compute": "bf16"}})
    if case.disaggregated:
        if predict_pools is None:
            return ServingSkip(case.row_id, DISAGG_SKIP)
        try:
            prefill, decode, workload = build_pools(parse_scenario(case.scenario, case.row_id),
                                                    resolve_model, resolve_chip)
        except InferplanError as exc:
            return ServingSkip(case.row_id, f"disaggregated row: {exc}")
        for pool in (prefill, decode):
            if max_batch(pool, replace(workload, output_len=1, input_len=1)) < 1:
                return ServingSkip(case.row_id, "disaggregated row: the weights leave no "
                                   "room for a sequence in a pool at the engine's usable "
                                   "memory fraction (0.9)")
        ttft, tpot = predict_pools(prefill, decode, workload)
        return replace(case, pred_ttft_s=ttft, pred_tpot_s=tpot)
    try:
        deployment, workload = build_deployment(parse_scenario(case.scenario, case.row_id),
                                                resolve_model, resolve_chip)
    except InferplanError as exc:
        return ServingSkip(case.row_id, str(exc))
    if workload.concurrency is None:
        raise AssertionError("serving rows map to a concurrency workload")
    if max_batch(deployment, replace(workload, output_len=1, input_len=1)) < 1:
        return ServingSkip(case.row_id, "the weights leave no room for a sequence at the "
                                        "engine's usable memory fraction (0.9)")
    try:
        ttft, tpot = predict(deployment, workload)
    except InferplanError as exc:
        return ServingSkip(case.row_id, str(exc))
    return replace(case, pred_ttft_s=ttft, pred_tpot_s=tpot)


#: Relative agreement of TTFT and TPOT within which two rows are one measured run recorded
#: twice: the gap-analysis CSVs round to 0.01 ms (at most 0.01% of a 100 ms TTFT or 0.1% of
#: a 10 ms TPOT); two separate runs of one configuration differ by percents (the dev set's
#: repeated InferenceMAX configurations: 1-20%).
SAME_RUN_TOLERANCE = 1e-3


def restated_protocols(rows: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The rows, each question-marked client protocol (`aiperf-fixed?`: inferred by the
    source) restated where the row is an InferenceMAX run recorded again: an
    `inferencemax` row of the same engine, model, system and lengths whose measured TTFT
    and TPOT agree within `SAME_RUN_TOLERANCE`. Such a run was driven by InferenceMAX's
    client (lengths in [0.8 L, L], 10 C requests), not by a fixed-length one, so the row
    takes that protocol and the twin's `silicon_data_source` (its date and image pick the
    run's InferenceX script, `inferencex_recipe`); it keeps its own layout (the re-export
    records the run's real one where the InferenceMAX copy carries the `layout_caveat`).
    In `serving_dev.csv` every Kimi-K2.5 (47) and Qwen3.5-397B-A17B (76) row of the
    gap-analysis files is such a run; no other is."""
    def same(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
        return all(math.isclose(float(a[c]), float(b[c]), rel_tol=SAME_RUN_TOLERANCE)
                   for c in ("silicon_ttft_ms", "silicon_tpot_ms"))

    def key(row: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(row.get(c, "") for c in ("mode", "backend", "model_path", "system",
                                              "isl", "osl"))
    runs: dict[tuple[str, ...], list[Mapping[str, str]]] = {}
    for row in rows:
        if row["client_protocol"] == "inferencemax":
            runs.setdefault(key(row), []).append(row)
    out = []
    for row in rows:
        twin = next((other for other in runs.get(key(row), []) if same(row, other)),
                    None) if row["client_protocol"].endswith("?") else None
        if twin is None:
            out.append(dict(row))
        else:
            out.append({**row, "client_protocol": "inferencemax",
                        "silicon_data_source": twin.get("silicon_data_source", "")})
    return out


def run_serving_validation(rows: Iterable[Mapping[str, str]],
                           resolve_model: Callable[[str], ModelSpec],
                           resolve_chip: Callable[[str], ChipSpec],
                           predict: Predictor = closed_form,
                           predict_pools: PoolPredictor | None = None,
                           ) -> tuple[list[ServingCase], list[ServingSkip]]:
    """Map and predict every row (the closed form, or another predictor such as
    `sim.run.simulated_means`; disaggregated rows through `predict_pools`, such as
    `sim.run.simulated_pool_means`): (predicted cases, skipped rows with reasons)."""
    return map_and_predict(
        restated_protocols(list(rows)), map_serving_row, lambda case: predict_serving(
            case, resolve_model, resolve_chip, predict, predict_pools), ServingSkip)


@dataclass(frozen=True)
class ServingStats:
    """Errors of a group: our TPOT/TTFT MAPE and median pred/meas, and the peer's MAPE on
    the rows it predicts beside ours on the same rows (None where it predicts none)."""

    group: str
    rows: int
    tpot_mape: float
    ttft_mape: float
    tpot_ratio: float
    ttft_ratio: float
    peer_rows: int
    ours_tpot_mape_on_peer: float | None
    ours_ttft_mape_on_peer: float | None
    peer_tpot_mape: float | None
    peer_ttft_mape: float | None


def _mape(pred: Sequence[float], meas: Sequence[float]) -> float:
    """mean |pred − meas| / meas. (11, 9) against (10, 10): 0.1."""
    p, m = np.asarray(pred, dtype=np.float64), np.asarray(meas, dtype=np.float64)
    return float(np.mean(np.abs(p - m) / m))


def serving_stats(group: str, cases: Sequence[ServingCase]) -> ServingStats:
    """MAPE and median ratio of one group, ours and the peer's."""
    peer = [c for c in cases if c.peer_tpot_s is not None and c.peer_ttft_s is not None]

    def ours(items: Sequence[ServingCase], what: str) -> float:
        return _mape([getattr(c, f"pred_{what}_s") for c in items],
                     [getattr(c, f"{what}_s") for c in items])

    def theirs(what: str) -> float:
        return _mape([getattr(c, f"peer_{what}_s") for c in peer],
                     [getattr(c, f"{what}_s") for c in peer])

    return ServingStats(
        group=group, rows=len(cases), tpot_mape=ours(cases, "tpot"),
        ttft_mape=ours(cases, "ttft"),
        tpot_ratio=float(np.median([c.pred_tpot_s / c.tpot_s for c in cases])),
        ttft_ratio=float(np.median([c.pred_ttft_s / c.ttft_s for c in cases])),
        peer_rows=len(peer),
        ours_tpot_mape_on_peer=ours(peer, "tpot") if peer else None,
        ours_ttft_mape_on_peer=ours(peer, "ttft") if peer else None,
        peer_tpot_mape=theirs("tpot") if peer else None,
        peer_ttft_mape=theirs("ttft") if peer else None)


def serving_table(cases: Sequence[ServingCase]) -> list[ServingStats]:
    """One row per (model, chip, engine) group (disaggregated groups apart, "(disagg)"),
    then dense agg rows, all agg rows and all disaggregated rows."""
    groups = sorted({c.group for c in cases})
    table = [serving_stats(g, [c for c in cases if c.group == g]) for g in groups]
    agg = [c for c in cases if not c.disaggregated]
    disagg = [c for c in cases if c.disaggregated]
    dense = [c for c in agg if c.dense]
    for name, members in (("dense rows", dense), ("all agg rows", agg),
                          ("all disagg rows", disagg)):
        if not members:
            continue
        table.append(serving_stats(name, members))
    return table


def coverage(cases: Sequence[ServingCase], skipped: Sequence[ServingSkip]) -> float:
    """Predicted agg rows over all agg rows (disaggregated rows are not counted)."""
    agg_skips = [s for s in skipped if not s.reason.startswith("disaggregated")]
    agg = [c for c in cases if not c.disaggregated]
    total = len(agg) + len(agg_skips)
    return len(agg) / total if total else 0.0


def serving_validation_dict(cases: Sequence[ServingCase],
                            skipped: Sequence[ServingSkip]) -> dict[str, object]:
    """The JSON of `inferplan validate --serving --json`."""
    reasons: dict[str, int] = {}
    for s in skipped:
        key = s.reason if len(s.reason) < 90 else s.reason[:87] + "..."
        reasons[key] = reasons.get(key, 0) + 1
    return {
        "evaluated": len(cases), "skipped_count": len(skipped),
        "coverage_agg": coverage(cases, skipped),
        "groups": [s.__dict__ for s in serving_table(cases)],
        "skip_reasons": reasons,
        "rows": [{"id": c.row_id, "group": c.group, "ttft_s": c.ttft_s, "tpot_s": c.tpot_s,
                  "pred_ttft_s": c.pred_ttft_s, "pred_tpot_s": c.pred_tpot_s,
                  "peer_ttft_s": c.peer_ttft_s, "peer_tpot_s": c.peer_tpot_s,
                  "scenario": c.scenario} for c in cases],
    }
