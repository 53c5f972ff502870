"""docs/python-api.md's tour; tests/test_python_api.py runs it here (COLUMNS=80) and
checks that its output is the doc's."""

from dataclasses import replace

import inferplan

# a scenario as a mapping: the fields of a scenario file
scenario = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 1,
            "parallelism": {"tp": 1},
            "workload": {"input_len": 1024, "output_len": 128, "batch": 8}}
report = inferplan.estimate(scenario)
print(report)                            # the tables `inferplan estimate` prints
record = report.to_dict()                # what `inferplan estimate --json` prints
print(f"TTFT {record['ttft_s'] * 1e3:.1f} ms, TPOT {record['tpot_s'] * 1e3:.2f} ms")

# typed objects: the Deployment and Workload every command builds
deployment, workload = inferplan.load(scenario)
print(repr(inferplan.estimate(deployment, replace(workload, batch=32))))

# a path: names in the file resolve next to it
sim = inferplan.simulate("closed-loop.yaml", seed=0)
print(repr(sim))
print(f"{sim.simulation.summary.output_tokens_per_s:,.0f} output tok/s simulated")

space = inferplan.search("space.yaml", top=3)
print(repr(space))
best = space.to_dict()["best"][0]
print(best["scenario"])
assert inferplan.estimate(best["scenario"]).to_dict() == {
    k: v for k, v in best.items() if k not in ("scenario", "objective", "search")}

try:
    inferplan.estimate({**scenario, "chips": "two"})
except inferplan.InferplanError as exc:
    print(f"error: {exc}")
