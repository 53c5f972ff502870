"""A simulated run as a Chrome trace (chrome://tracing, Perfetto): one complete event per
engine iteration on its replica's row, named by what ran, with its composition in the
arguments, and counters of running sequences and KV cache fill. Renders `SimResult.log`;
computes nothing new."""

from __future__ import annotations

from inferplan.sim.loop import SimResult


def chrome_trace(run: SimResult) -> dict[str, object]:
    """{"traceEvents": [...], "displayTimeUnit": "ms"}; times in microseconds."""
    events: list[dict[str, object]] = []
    room = max(run.kv_capacity_tokens, 1)
    for replica, start, duration, steps, running, decoding, prompt_tokens, held in \
            run.log.tolist():
        pid = int(replica)
        name = ("decode" if prompt_tokens == 0 else
                "prefill" if decoding == 0 else "prompt + decode")
        ts = start * 1e6
        events.append({"name": name, "ph": "X", "ts": ts, "dur": duration * 1e6, "pid": pid,
                       "tid": 0, "args": {"steps": int(steps), "running": int(running),
                                          "decoding": int(decoding),
                                          "prompt_tokens": int(prompt_tokens)}})
        events.append({"name": "occupancy", "ph": "C", "ts": ts, "pid": pid,
                       "args": {"running": running, "kv_fill": held / room}})
    return {"traceEvents": events, "displayTimeUnit": "ms"}
