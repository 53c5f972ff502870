"""A request-level simulator of one serving replica: closed-loop clients, the engine's
scheduler step by step, step times from the `StepTimeModel` (through a precomputed table),
and per-request TTFT, TPOT and end-to-end latency.

- `requests.py`: the benchmark client's requests (lengths fixed or uniform in
  [ratio·L, L], seeded).
- `step_table.py`: step times on a grid of (decoding sequences, their mean context,
  prompt tokens) from `inferplan.steptime`, interpolated per step.
- `loop.py`: the event loop of one replica under a closed loop of C clients, with the
  engine profile's scheduler (mixed or prefill-first steps, token budget, max_num_seqs,
  KV admission).
- `metrics.py`: mean and percentiles of what a benchmark client reports.
"""

from inferplan.sim.loop import SimResult, simulate_replica
from inferplan.sim.metrics import Distribution, SimSummary, summarise_run

__all__ = ["Distribution", "SimResult", "SimSummary", "simulate_replica",
           "summarise_run"]
