"""`inferplan export`: the engine's launch command, config and benchmark for a scenario."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from inferplan.cli.files import write_text
from inferplan.cli.loader import load_scenario
from inferplan.export import EXTRA_OPTIONS_FILE, export_engine_name, plan_export
from inferplan.report.export_text import (
    bench_script,
    extra_options_yaml,
    render_export,
    serve_script,
)
from inferplan.report.json_out import to_json
from inferplan.units import InferplanError

SERVE_FILE = "serve.sh"
BENCH_FILE = "bench.sh"
PLAN_FILE = "plan.json"


def run_export(scenario: str | None, engine: str | None, out: Path | None,
               json_out: bool) -> None:
    if out is not None and out.exists() and not out.is_dir():
        raise InferplanError("--out", str(out), "is a file; give a folder (made if missing)")
    deployment, workload = load_scenario(scenario)
    plan = plan_export(deployment, workload, export_engine_name(engine, deployment.engine.name))
    if json_out:
        print(to_json(plan.to_dict()))
    else:
        render_export(plan, Console())
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InferplanError("--out", str(out), f"cannot be made: {exc.strerror or exc}"
                                 ) from None
        files = {SERVE_FILE: serve_script(plan), BENCH_FILE: bench_script(plan),
                 PLAN_FILE: to_json(plan.to_dict()) + "\n"}
        if plan.extra_options:
            files[EXTRA_OPTIONS_FILE] = extra_options_yaml(plan)
        for name, text in files.items():
            write_text(out / name, text, "--out")
        if not json_out:
            Console().print(f"wrote {', '.join(sorted(files))} to {out}", highlight=False)
