"""Which graphs furiosa-llm compiles for a bucket config, version by version.

Paraphrase of ArtifactBuilder (furiosa.md section 2): prefill buckets P (kv = 0),
decode buckets D (kv = L - 1), other buckets O (verify, chunk, append); chunks of
`prefill_chunk_size` C up to the chunk limit, batch 1, the first chunk in P; exact
de-duplication per list; one pipeline per element of P + D + O. 2026.2+ validates
instead of expanding, and an empty config means the per-model preset.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferplan.buckets.config import BucketConfig
from inferplan.buckets.graphs import FuriosaList, Graph, GraphKind
from inferplan.buckets.rules import FuriosaRules, PresetEntry, VersionRules
from inferplan.models import ModelSpec
from inferplan.units import InferplanError


@dataclass(frozen=True)
class GraphPlan:
    """The graphs one build compiles, in build order (P, then D, then O)."""

    version: VersionRules
    tp: int
    graphs: tuple[Graph, ...]
    configured: int
    max_seq_len_to_capture: int
    chunk_limit: int | None
    notes: tuple[str, ...]
    preset: PresetEntry | None = None

    @property
    def count(self) -> int:
        """Graphs compiled; for a preset, its prefill + decode + append bucket count."""
        if self.preset is not None:
            return self.preset.prefill + self.preset.decode + self.preset.append
        return len(self.graphs)

    @property
    def added(self) -> tuple[Graph, ...]:
        """Graphs the compiler adds beyond the configured buckets (chunks, verify, tokenwise)."""
        return tuple(g for g in self.graphs
                     if g.origin not in ("prefill_buckets", "decode_buckets", "append_buckets"))


def chunk_boundaries(limit: int, chunk: int) -> list[tuple[int, int]]:
    """(kv, attn) of each chunked-prefill graph: i*C up to `limit`, a shorter last chunk.

    divmod(32768, 8192) = (4, 0) -> (0, 8192), (8192, 16384), (16384, 24576),
    (24576, 32768); limit 30000 -> the last is (24576, 30000), q = 5424.
    """
    n, rest = divmod(limit, chunk)
    bounds = [((i - 1) * chunk, i * chunk) for i in range(1, n + 1)]
    if rest:
        bounds.append((n * chunk, limit))
    return bounds


def _unique(graphs: list[Graph]) -> tuple[list[Graph], int]:
    kept: list[Graph] = []
    seen: set[tuple[int, int, int, int]] = set()
    for g in graphs:
        if g.key not in seen:
            seen.add(g.key)
            kept.append(g)
    return kept, len(graphs) - len(kept)


def _graph(kind: GraphKind, lst: FuriosaList, origin: str, b: int, kv: int, attn: int,
           logits: int = 1) -> Graph:
    return Graph(kind=kind, batch=b, kv=kv, attn=attn, logits=logits, furiosa_list=lst,
                 origin=origin)


def check_tp(tp: int, version: VersionRules, rules: FuriosaRules) -> None:
    """TP must be allowed by the version and give a legal PE fusion (1, 2, 4 or 8 PEs)."""
    if not version.allowed_tp.allows(tp):
        raise InferplanError("tensor_parallel_size", tp,
                             f"furiosa-llm {version.id} allows {version.allowed_tp.describe()}")
    fused = min(rules.pe_fusion.pes_per_chip, tp)
    if fused not in rules.pe_fusion.allowed_fusion:
        raise InferplanError("tensor_parallel_size", tp, "PE fusion must be 1, 2, 4 or 8 PEs")


def _prefill_decode(cfg: BucketConfig, msl: int, notes: list[str]) -> tuple[list[Graph],
                                                                              list[Graph]]:
    prefill, decode = list(cfg.prefill_buckets), list(cfg.decode_buckets)
    if not prefill and not decode:
        notes.append(f"no buckets given: ArtifactBuilder defaults to prefill and decode "
                     f"(1, {msl}) (max_seq_len_to_capture)")
        prefill, decode = [(1, msl)], [(1, msl)]
    P = [_graph("prefill", "prefill", "prefill_buckets", b, 0, L) for b, L in prefill]
    D = [_graph("decode", "decode", "decode_buckets", b, L - 1, L) for b, L in decode]
    return P, D


def _speculative(cfg: BucketConfig, version: VersionRules, D: list[Graph]) -> list[Graph]:
    """One verify graph per decode bucket: kv = L - (k + 1), logits k + 1."""
    k = cfg.num_speculative_tokens
    if not k:
        return []
    if not version.speculative_decoding:
        raise InferplanError("num_speculative_tokens", k,
                             f"furiosa.md has no speculative-decoding rule for furiosa-llm "
                             f"{version.id}; use 2025.1-2026.1")
    out = []
    for d in D:
        if d.attn <= k + 1:
            raise InferplanError("decode_buckets", [d.batch, d.attn],
                                 f"a verify graph needs context > num_speculative_tokens + 1 "
                                 f"= {k + 1}")
        out.append(_graph("verify", "other", "num_speculative_tokens", d.batch,
                          d.attn - (k + 1), d.attn, logits=k + 1))
    return out


def chunk_graph_count(limit: int, chunk: int, version: VersionRules) -> int:
    """Graphs chunked prefill adds: one per chunk, two per non-final chunk in 2025.1-2025.2.

    limit 32768, chunk 8192: 4 (2025.3), 7 (2025.1).
    """
    bounds = chunk_boundaries(limit, chunk)
    return sum(1 if attn == limit else len(version.nonfinal_chunk_logits_sizes)
               for _, attn in bounds)


def _chunks(cfg: BucketConfig, version: VersionRules, msl: int) -> tuple[list[Graph], int]:
    """Chunked-prefill graphs (batch 1) and the chunk limit they run up to."""
    chunk = cfg.prefill_chunk_size
    assert chunk is not None
    by_msl = version.chunk_limit == "max_seq_len_to_capture"
    limit = msl if by_msl else (cfg.max_prompt_len or msl)
    if chunk > limit:
        raise InferplanError("prefill_chunk_size", chunk,
                             f"must be at most the chunk limit {limit} "
                             f"({version.chunk_limit or 'max_prompt_len'})")
    out: list[Graph] = []
    for kv, attn in chunk_boundaries(limit, chunk):
        final = attn == limit
        sizes = (1,) if final else version.nonfinal_chunk_logits_sizes
        for s in sizes:
            out.append(_graph("chunk", "prefill" if kv == 0 else "other",
                              f"prefill_chunk_size={chunk}", 1, kv, attn, logits=s))
    return out, limit


def _append(cfg: BucketConfig, version: VersionRules) -> list[Graph]:
    if cfg.append_buckets and not version.append_buckets:
        raise InferplanError("append_buckets", [list(a) for a in cfg.append_buckets][:1],
                             f"furiosa-llm {version.id} has no append buckets (2026.1+)")
    out = []
    for b, attn, q in cfg.append_buckets:
        if attn <= q:
            raise InferplanError("append_buckets", [b, attn, q],
                                 "attention length must exceed q (kv = attn - q > 0)")
        out.append(_graph("append", "other", "append_buckets", b, attn - q, attn))
    return out


def _tokenwise(cfg: BucketConfig, version: VersionRules, P: list[Graph]) -> list[Graph]:
    """2026.1 composable kernels: a prefill(1, L) graph per tokenwise length not in P (b=1)."""
    if cfg.tokenwise_seq_lens and not version.tokenwise_seq_lens:
        raise InferplanError("tokenwise_seq_lens", list(cfg.tokenwise_seq_lens),
                             f"furiosa-llm {version.id} has no tokenwise buckets (2026.1+)")
    have = {g.q for g in P if g.batch == 1 and g.kv == 0}
    out = []
    for L in cfg.tokenwise_seq_lens:
        if L not in have:
            have.add(L)
            out.append(_graph("prefill", "prefill", "tokenwise_seq_lens", 1, 0, L))
    return out


def _validate_2026(cfg: BucketConfig, version: VersionRules, P: list[Graph], D: list[Graph],
                   A: list[Graph]) -> None:
    """artifact/validator.py (2026.2/2026.3) and fxb build (2026.4), rule by rule."""
    rules = set(version.validation)
    if cfg.skip_bucket_validation:
        rules -= set(version.skippable_validation)
    who = f"furiosa-llm {version.id} rejects this"
    for field, buckets in (("prefill_buckets", cfg.prefill_buckets),
                           ("decode_buckets", cfg.decode_buckets),
                           ("append_buckets", cfg.append_buckets)):
        dup = [b for i, b in enumerate(buckets) if b in buckets[:i]]
        if "no_duplicates" in rules and dup:
            raise InferplanError(field, list(dup[0]), f"{who}: duplicate bucket")
    if "has_prefill" in rules and not P:
        raise InferplanError("prefill_buckets", [], f"{who}: at least one prefill bucket")
    if "has_decode" in rules and not D:
        raise InferplanError("decode_buckets", [], f"{who}: a generative model needs "
                             "decode buckets")
    max_exec = max(g.attn for g in P + D + A)
    max_model_len = cfg.max_model_len or max_exec
    if "within_max_model_len" in rules:
        for g in P + D + A:
            if g.attn > max_model_len:
                raise InferplanError("max_model_len", max_model_len,
                                     f"{who}: bucket {g.name} exceeds max_model_len")
    if "max_model_len_is_max_executable_len" in rules and max_model_len != max_exec:
        raise InferplanError("max_model_len", max_model_len,
                             f"{who}: must equal the largest bucket attention length "
                             f"(max_executable_len = {max_exec})")
    if "prefill_max_attn_equals_decode_max_attn" in rules and P + A and D:
        top_p = max(g.attn for g in P + A)
        top_d = max(g.attn for g in D)
        if top_p != top_d:
            raise InferplanError("prefill_buckets", top_p,
                                 f"{who}: the largest prefill/append attention length must "
                                 f"equal the largest decode one ({top_d}); add an append or "
                                 f"prefill bucket reaching {top_d}"
                                 + ("" if "prefill_max_attn_equals_decode_max_attn"
                                    not in version.skippable_validation
                                    else " or set skip_bucket_validation"))


def _preset(model: ModelSpec, cfg: BucketConfig, rules: FuriosaRules) -> PresetEntry:
    for entry in rules.presets.entries:
        m = entry.match
        if (m.model_type, m.hidden_size, m.intermediate_size, m.weights) == (
                model.model_type, model.hidden_size, model.intermediate_size, cfg.weight_dtype):
            return entry
    keys = ", ".join(e.key for e in rules.presets.entries)
    raise InferplanError("prefill_buckets", [], f"empty: furiosa-llm would look up a preset and "
                         f"this model/weights have none we know of ({keys}); give buckets")


def enumerate_graphs(cfg: BucketConfig, model: ModelSpec, rules: FuriosaRules,
                     tp: int | None = None) -> GraphPlan:
    """Every graph the build compiles, in order, with the version's rules applied.

    Seed 000 (2025.3, 9 prefill + 25 decode, max_seq_len_to_capture 32768, chunk 8192):
    34 + 4 chunk graphs = 38; with a (1, 8192) prefill bucket, 37; with 2025.1, 41.
    """
    version = rules.version(cfg.furiosa_llm_version)
    tp = tp or cfg.tensor_parallel_size or version.default_tp
    check_tp(tp, version, rules)
    if cfg.skip_bucket_validation and not version.skippable_validation:
        raise InferplanError("skip_bucket_validation", True,
                             f"furiosa-llm {version.id} has no such option (2026.4 fxb build)")
    msl = cfg.max_seq_len_to_capture or rules.builder_defaults.max_seq_len_to_capture
    notes: list[str] = []
    if cfg.prefill_chunk_size and not version.chunked_prefill:
        raise InferplanError("prefill_chunk_size", cfg.prefill_chunk_size,
                             f"removed in furiosa-llm {version.id}; use append_buckets "
                             f"(b, attn, q) for long prompts")
    if version.presets and not (cfg.prefill_buckets or cfg.decode_buckets or cfg.append_buckets):
        preset = _preset(model, cfg, rules)
        notes.append(f"empty BucketConfig: furiosa-llm {version.id} uses preset {preset.key} "
                     f"({rules.presets.source}); only its bucket counts are known here")
        return GraphPlan(version, tp, (), 0, msl, None, tuple(notes), preset)

    if version.presets:
        P = [_graph("prefill", "prefill", "prefill_buckets", b, 0, L)
             for b, L in cfg.prefill_buckets]
        D = [_graph("decode", "decode", "decode_buckets", b, L - 1, L)
             for b, L in cfg.decode_buckets]
    else:
        P, D = _prefill_decode(cfg, msl, notes)
    A = _append(cfg, version)
    if version.presets:
        _validate_2026(cfg, version, P, D, A)
    other: list[Graph] = _speculative(cfg, version, D)
    chunk_limit = None
    if cfg.prefill_chunk_size:
        chunks, chunk_limit = _chunks(cfg, version, msl)
        if version.manual_prefill_with_chunking == "ignored" and cfg.prefill_buckets:
            notes.append(f"furiosa-llm {version.id} ignores the {len(P)} manual prefill "
                         f"buckets when prefill_chunk_size is set")
            P = []
        P += [g for g in chunks if g.kv == 0]
        other += [g for g in chunks if g.kv > 0]
    other += A
    P += _tokenwise(cfg, version, P)
    configured = len(set(cfg.prefill_buckets)) + len(set(cfg.decode_buckets)) + len(
        set(cfg.append_buckets))
    P, dp = _unique(P)
    D, dd = _unique(D)
    other, do = _unique(other)
    if dp + dd + do and not version.presets:
        notes.append(f"{dp + dd + do} duplicate bucket(s) de-duplicated (exact match per list)")
    graphs = tuple(P + D + other)
    top = max(g.attn for g in graphs)
    if version.max_context is not None and top > version.max_context:
        notes.append(f"furiosa-llm {version.id} documents contexts up to {version.max_context}; "
                     f"this build has attention length {top}")
    if version.check_max_position_embeddings and model.max_position_embeddings and (
            top > model.max_position_embeddings):
        raise InferplanError("max_seq_len_to_capture", top,
                             f"furiosa-llm {version.id} requires max_executable_len <= "
                             f"max_position_embeddings = {model.max_position_embeddings}")
    return GraphPlan(version, tp, graphs, configured, msl, chunk_limit, tuple(notes))
