"""`Graph`: one static-shape graph a compiler builds, named as furiosa-llm names it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GraphKind = Literal["prefill", "decode", "chunk", "verify", "append"]
#: Which of ArtifactBuilder's three lists holds the graph (prefill P, decode D, other O).
FuriosaList = Literal["prefill", "decode", "other"]


@dataclass(frozen=True)
class Graph:
    """A bucket: `batch` sequences, `kv` cached tokens, `attn` keys, q = attn - kv new tokens.

    `logits` is furiosa-llm's output_logits_size; `origin` says which config field made it.
    """

    kind: GraphKind
    batch: int
    kv: int
    attn: int
    logits: int
    furiosa_list: FuriosaList
    origin: str

    @property
    def q(self) -> int:
        """New (query) tokens per sequence: attn - kv. kv16384-b1-attn24576 -> 8192."""
        return self.attn - self.kv

    @property
    def name(self) -> str:
        """furiosa-llm's name `kv{kv}-b{b}-attn{attn}`: decode (4, 8192) -> kv8191-b4-attn8192."""
        return f"kv{self.kv}-b{self.batch}-attn{self.attn}"

    @property
    def key(self) -> tuple[int, int, int, int]:
        """furiosa-llm de-duplicates on exact (b, attn, kv, output_logits_size)."""
        return (self.batch, self.attn, self.kv, self.logits)
