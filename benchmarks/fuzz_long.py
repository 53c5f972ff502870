"""A long fuzz run of the parsers (issue 13), about 5 minutes on this 2-core machine.

Run: `.venv/bin/python benchmarks/fuzz_long.py [--scale 1.0] [--seed N]`.

It draws from the strategies of `tests/test_fuzz_parsers.py` (imported, not copied) and
checks the same properties, with many more examples than the suite's 300 per property
and a random seed (printed; `--seed` reruns one): a scenario, an HF config or a YAML
text becomes a result or one clean `InferplanError` line. A fourth property takes the
mutated scenarios through the command line, `inferplan estimate FILE --json` in-process:
exit 0, or exit 2 with one `error:` line. Every example runs under a timer of
`TIMEOUT_S`; the run passes with 0 tracebacks and 0 hangs. Not in `run_all.py`, which
has no mark for slow or optional benchmarks: the README's benchmarks paragraph gives
this command.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import test_fuzz_parsers as fuzz  # noqa: E402

from inferplan.cli import main as cli_main  # noqa: E402

#: Seconds one example may take before it counts as a hang.
TIMEOUT_S = 10.0
#: Examples per property at --scale 1: ~5 minutes at the rates of a run on this 2-core
#: machine beside other jobs (seed 2686325777, load ~3.5: 420 scenarios/s, 300 HF
#: configs/s, 1,300 YAML texts/s, 45 CLI runs/s; 196,000 examples took 466 s).
EXAMPLES: dict[str, int] = {"scenario": 30_000, "hf_config": 30_000, "yaml_text": 65_000,
                            "cli_estimate": 4_000}


class Hang(Exception):
    """An example ran past `TIMEOUT_S`."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `Hang` in the main thread if the block runs past `seconds`."""
    def stop(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"an example ran past {seconds:.0f} s")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def cli_estimate_check(folder: Path) -> Callable[[dict[str, Any]], None]:
    """The property of the command line: a mutated scenario, written as YAML, gives
    `inferplan estimate --json` exit 0, or exit 2 and one `error:` line on stderr."""
    path = folder / "scenario.yaml"

    def check(raw: dict[str, Any]) -> None:
        path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli_main(["estimate", str(path), "--json"])
                code: object = 0
            except SystemExit as done:
                code = done.code
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        if code in (0, None):
            assert out.getvalue().lstrip().startswith("{"), out.getvalue()[:200]
            return
        assert code == 2, (code, err.getvalue()[-2000:])
        assert len(lines) == 1 and lines[0].startswith("error: "), lines[:5]
    return check


@dataclass
class Outcome:
    """One property's run: examples tried, seconds, and the failure if any."""

    name: str
    examples: int
    seconds: float
    hangs: int
    failure: str | None


def run_property(name: str, strategy: st.SearchStrategy[Any],
                 check: Callable[[Any], None], examples: int, run_seed: int) -> Outcome:
    """Draw `examples` inputs from `strategy` and check each under `time_limit`."""
    tried, hangs = 0, 0

    def one(value: Any) -> None:
        nonlocal tried, hangs
        tried += 1
        try:
            with time_limit(TIMEOUT_S):
                check(value)
        except Hang:
            hangs += 1
            raise

    test = seed(run_seed)(settings(
        max_examples=examples, deadline=None, database=None, derandomize=False,
        suppress_health_check=list(HealthCheck))(given(strategy)(one)))
    start = time.perf_counter()
    failure = None
    try:
        test()
    except Exception:                   # any escape is the finding
        failure = traceback.format_exc(limit=-8)
    return Outcome(name, tried, time.perf_counter() - start, hangs, failure)


def properties(folder: Path) -> list[tuple[str, st.SearchStrategy[Any],
                                            Callable[[Any], None]]]:
    """(name, inputs, check) of each property: the suite's three, and the CLI's."""
    return [
        ("scenario", fuzz.SCENARIOS,
         fuzz.test_scenario_parser_never_crashes.hypothesis.inner_test),
        ("hf_config", fuzz.HF_CONFIG_INPUTS,
         fuzz.test_hf_config_parser_never_crashes.hypothesis.inner_test),
        ("yaml_text", fuzz.YAML_TEXTS, fuzz.test_yaml_text_never_crashes.hypothesis.inner_test),
        ("cli_estimate", fuzz.SCENARIOS, cli_estimate_check(folder)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="Multiply every property's example count (1.0: ~5 minutes)")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed")
    args = parser.parse_args()
    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"fuzz_long: seed {run_seed}, per-example timeout {TIMEOUT_S:.0f} s")
    print(f"{'property':14} {'examples':>9} {'seconds':>8} {'hangs':>6}  result")
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory() as folder:
        for name, strategy, check in properties(Path(folder)):
            count = max(1, round(EXAMPLES[name] * args.scale))
            o = run_property(name, strategy, check, count, run_seed)
            outcomes.append(o)
            print(f"{o.name:14} {o.examples:9,} {o.seconds:8.1f} {o.hangs:6}  "
                  f"{'ok' if o.failure is None else 'FAILED'}", flush=True)
    failed = [o for o in outcomes if o.failure is not None]
    total = sum(o.examples for o in outcomes)
    print(f"{total:,} examples in {sum(o.seconds for o in outcomes):.0f} s; "
          f"{len(failed)} tracebacks, {sum(o.hangs for o in outcomes)} hangs")
    for o in failed:
        print(f"\n--- {o.name} (rerun with --seed {run_seed}) ---\n{o.failure}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
