"""The grid of steps a calibration times: decode, prefill and mixed steps over batch and
context, some on a model of half the depth (so a fixed cost per step and one per layer
can be told apart), every third point held out of the fit."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, Literal

from inferplan.cost import Segment

Phase = Literal["decode", "prefill", "mixed"]
#: Every HOLD_OUT_EVERY-th point of a grid (the 3rd, 6th, ...) is held out of the fit.
HOLD_OUT_EVERY = 3


@dataclass(frozen=True)
class GridPoint:
    """One timed step: `batch` decode sequences at `context` cached tokens (decode,
    mixed), `batch` prompts of `prompt` tokens (prefill) or one prompt of `prompt` tokens
    beside the decodes (mixed), on the model cut to `layers` layers."""

    phase: Phase
    batch: int
    context: int
    prompt: int
    layers: int

    def label(self, full_layers: int) -> str:
        """'decode B=16 C=512', 'prefill B=2 S=256', 'mixed B=4 C=512 +S=128', with
        ' L=2' where the model is cut."""
        text = {"decode": f"decode B={self.batch} C={self.context}",
                "prefill": f"prefill B={self.batch} S={self.prompt}",
                "mixed": f"mixed B={self.batch} C={self.context} +S={self.prompt}"}[self.phase]
        return text if self.layers == full_layers else f"{text} L={self.layers}"

    def segments(self) -> list[Segment]:
        """The step as the step-time model prices it."""
        if self.phase == "decode":
            return [Segment("decode", self.batch, 1, self.context)]
        if self.phase == "prefill":
            return [Segment("prefill", self.batch, self.prompt, 0)]
        return [Segment("decode", self.batch, 1, self.context),
                Segment("prefill", 1, self.prompt, 0)]

    @property
    def decode_batch(self) -> int:
        """Decode sequences in the step (0 for prefill)."""
        return 0 if self.phase == "prefill" else self.batch

    @property
    def prompts(self) -> tuple[int, int]:
        """(prompts, tokens each) in the step ((0, 0) for decode)."""
        return {"decode": (0, 0), "prefill": (self.batch, self.prompt),
                "mixed": (1, self.prompt)}[self.phase]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GridSpec:
    """The sizes of a grid and of the model it runs: decode batches × contexts, prefill
    batches × prompts, mixed batches × contexts × prompts, at `layers` layers; the
    `shallow` points at half the layers; the microbenchmarks' matmul sizes and the bytes
    the bandwidth reduction reads (None: twice the host's last-level cache)."""

    name: str
    hidden: int
    layers: int
    vocab: int
    decode_batches: tuple[int, ...]
    contexts: tuple[int, ...]
    prefill_batches: tuple[int, ...]
    prompts: tuple[int, ...]
    mixed_batches: tuple[int, ...]
    mixed_contexts: tuple[int, ...]
    mixed_prompts: tuple[int, ...]
    shallow: tuple[GridPoint, ...]
    repeats: int
    matmul_sizes: tuple[int, ...]
    bandwidth_bytes: int | None

    def points(self) -> list[GridPoint]:
        L = self.layers
        decode = [GridPoint("decode", b, c, 0, L)
                  for b, c in itertools.product(self.decode_batches, self.contexts)]
        prefill = [GridPoint("prefill", b, 0, s, L)
                   for b, s in itertools.product(self.prefill_batches, self.prompts)]
        mixed = [GridPoint("mixed", b, c, s, L) for b, c, s in itertools.product(
            self.mixed_batches, self.mixed_contexts, self.mixed_prompts)]
        return [*decode, *prefill, *mixed, *self.shallow]


def held_out(index: int) -> bool:
    """Whether the point at `index` (0-based) of a grid is held out: the 3rd, 6th, ..."""
    return index % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1


#: The grid `inferplan calibrate --device cpu` times: 32 steps of a 4-layer, 512-wide
#: model (about a minute on 2 CPU cores, compiles included).
FULL = GridSpec(
    name="full", hidden=512, layers=4, vocab=2048,
    decode_batches=(1, 4, 16, 32), contexts=(128, 512, 1024, 2048),
    prefill_batches=(1, 4), prompts=(64, 256, 512, 1024),
    mixed_batches=(4, 16), mixed_contexts=(512, 2048), mixed_prompts=(128,),
    shallow=(GridPoint("decode", 1, 512, 0, 2), GridPoint("decode", 16, 512, 0, 2),
             GridPoint("prefill", 1, 0, 256, 2), GridPoint("mixed", 4, 512, 128, 2)),
    repeats=9, matmul_sizes=(512, 1024, 2048), bandwidth_bytes=None)

#: `--quick`: 9 small steps of a 2-layer, 256-wide model, for tests (seconds, mostly
#: compiling; too few points, too short steps for an accurate fit).
QUICK = GridSpec(
    name="quick", hidden=256, layers=2, vocab=1024,
    decode_batches=(1, 8), contexts=(64, 256),
    prefill_batches=(1,), prompts=(32, 128),
    mixed_batches=(4,), mixed_contexts=(128,), mixed_prompts=(32,),
    shallow=(GridPoint("decode", 1, 64, 0, 1), GridPoint("prefill", 1, 0, 32, 1)),
    repeats=5, matmul_sizes=(256, 512), bandwidth_bytes=64 << 20)

#: `--device gpu|tpu`: a 2048-wide, 8-layer model over engine-sized batches and contexts
#: (about 20 GB of KV cache at its largest). Sized for an 80 GB accelerator; not yet run
#: on one.
ACCELERATOR = GridSpec(
    name="accelerator", hidden=2048, layers=8, vocab=32768,
    decode_batches=(1, 16, 64, 256), contexts=(512, 2048, 8192),
    prefill_batches=(1, 8), prompts=(512, 2048, 8192),
    mixed_batches=(16, 128), mixed_contexts=(2048, 8192), mixed_prompts=(1024,),
    shallow=(GridPoint("decode", 1, 2048, 0, 4), GridPoint("decode", 64, 2048, 0, 4),
             GridPoint("prefill", 1, 0, 2048, 4), GridPoint("mixed", 16, 2048, 1024, 4)),
    repeats=10, matmul_sizes=(2048, 4096, 8192), bandwidth_bytes=1 << 30)
