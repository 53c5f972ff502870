"""Examples that run (issue 14): every `inferplan ...` command README.md and docs/*.md show,
in a ```console/```text/```bash fence or in inline code, is run in-process
(`inferplan.cli.main`) on the files the repository holds and must exit 0.

Commands are collected by `tools.walkthrough.documented_commands`. Not run here, each
with its reason (`SKIPPED`, `covered`): the ```console blocks of the docs whose
tests/test_*_doc.py already reruns and compares them; synopses with placeholders
(`SCENARIO`, `[--json]`); bare mentions of a subcommand in prose; and the
slow ones listed in `SLOW`. Each command runs once, from a scratch directory that links
`docs/` and `examples/`, so outputs (`--html f.html`, `--out run/`) stay out of the tree.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main
from tools.walkthrough import ROOT, TERMINAL_ENV, documented_commands, parse_blocks

from inferplan.cli import app, main

DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

#: Docs whose ```console blocks (`$ inferplan ...`) a doc test reruns and compares.
CHECKED_BY = {
    "docs/serving-llama-3-70b-on-tpu-v5e.md": "tests/test_walkthrough_doc.py",
    "docs/buckets.md": "tests/test_buckets_doc.py",
    "docs/disaggregated-serving.md": "tests/test_disagg_doc.py",
    "docs/rngd-llama-3.1-8b-tp-vs-dp.md": "tests/test_rngd_doc.py",
    "docs/search.md": "tests/test_search_doc.py",
}

#: Documented commands not run here, and why (the whole test stays under ~20 s on 2 cores).
SLOW = {
    "inferplan validate --serving --simulate":
        "every serving row through the simulator: minutes (docs/simulate.md); "
        "tests/test_validate_serving.py covers the path on small inputs",
    "inferplan validate --serving --simulate --json":
        "the same whole-file simulation as above, as JSON (docs/simulate.md's figures)",
    "inferplan validate --serving":
        "8.8 s for the 2-core budget; runs here on 20 bundled rows instead (SMALLER)",
    "inferplan verify-sharding --devices 8":
        "jax in a child process: 11 s at 8 devices, 7.6 s even at 2; "
        "tests/test_verify_sharding.py runs the same check on 2, 4 and 8 devices",
    "inferplan verify-sharding":
        "jax in a child process (as above); tests/test_verify_sharding.py",
    "inferplan calibrate --device cpu --out cal.yaml":
        "times 32 jitted steps: about a minute on 2 cores; benchmarks/bench_calibrate.py "
        "runs it, tests/test_calibrate_cli.py runs the --quick grid end to end",
    "inferplan calibrate --device cpu --out cal.yaml --chip-out host.yaml":
        "as above (the full grid); tests/test_calibrate_cli.py writes --chip-out on --quick",
    "inferplan calibrate --device cpu --quick --out cal.yaml":
        "jax compiles of 9 steps, 10 s on 2 cores: tests/test_calibrate_cli.py runs it once "
        "for all its checks",
    "inferplan calibrate --device cpu --statistic best --out cal.yaml":
        "the full grid (about a minute); tests/test_calibrate_fit.py and "
        "tests/test_calibrate_cli.py cover the statistic",
    "inferplan calibrate --device cpu --model mixtral-8x7b --json":
        "the full grid on the MoE variant (minutes); tests/test_calibrate_model.py builds "
        "and runs its steps, tests/test_calibrate_fit.py fits it",
    "inferplan sweep examples/sweep/fleet.yaml --out fleet/ --backend ray":
        "starts a Ray instance on the machine's outward address; tests/test_sweep_ray.py "
        "runs the ray backend on a loopback cluster it starts, a worker killed mid-sweep",
    "inferplan report --sweep fleet/ --out fleet.html":
        "reads the folder the documented sweep writes (each command runs in a fresh scratch "
        "directory); tests/test_sweep.py::test_the_report_reads_a_sweeps_results runs both",
}

#: Documented commands that document a refusal: the exit status they show.
EXPECTED_EXIT: dict[str, int] = {}

PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z_]*(?:\.\.\.)?|\.\.\.|\[.*|.*\]|.*\|.*)$")


def _needs_argument() -> set[str]:
    group = typer.main.get_command(app)
    return {name for name, cmd in group.commands.items()   # type: ignore[attr-defined]
            if any(p.required for p in cmd.params)}


def _checked_lines(doc: Path) -> set[int]:
    rel = doc.relative_to(ROOT).as_posix()
    if rel not in CHECKED_BY:
        return set()
    return {b.line + 1 for b in parse_blocks(doc.read_text(encoding="utf-8"))
            if b.kind == "console"}


def classify() -> tuple[dict[str, list[str]], dict[str, str]]:
    """(command -> where the docs show it) to run, and (command -> reason) not run."""
    needs_argument = _needs_argument()
    run: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    for doc in DOCS:
        rel = doc.relative_to(ROOT).as_posix()
        checked = _checked_lines(doc)
        for cmd in documented_commands(doc.read_text(encoding="utf-8")):
            text = cmd.text
            if cmd.line in checked:
                skipped[text] = f"rerun and compared by {CHECKED_BY[rel]}"
            elif any(PLACEHOLDER.match(a) for a in cmd.args):
                skipped[text] = "synopsis with placeholders"
            elif not cmd.args:
                skipped[text] = "the program's name, not an invocation"
            elif len(cmd.args) == 1 and cmd.args[0] in needs_argument:
                skipped[text] = "names the subcommand; it needs an argument"
            elif len(cmd.args) == 1 and cmd.where == "inline" and cmd.args[0][0] != "-":
                skipped[text] = "names the subcommand in prose (run where a fence shows it)"
            elif text in SLOW:
                skipped[text] = SLOW[text]
            else:
                run.setdefault(text, []).append(f"{rel}:{cmd.line}")
    return run, {k: v for k, v in skipped.items() if k not in run}


RUN, SKIPPED = classify()

#: Slow documented commands run with small options instead (see SLOW).
SMALLER = {"inferplan validate --serving": ["validate", "{serving20}"]}


def test_the_docs_show_commands() -> None:
    assert len(RUN) >= 20
    assert "inferplan export examples/export/llama-3.1-70b-h100-vllm.yaml" in RUN
    assert "inferplan search examples/search/h100.yaml --top 3" in RUN
    assert "inferplan report examples/python-api/closed-loop.yaml --simulate --out report.html" \
        in RUN
    for doc, test in CHECKED_BY.items():
        assert doc in (ROOT / test).read_text(encoding="utf-8").replace('" / "', "/"), test


def test_documented_command_parser() -> None:
    text = ("```bash\nCOLUMNS=100 .venv/bin/inferplan memory a.yaml --json   # note\n```\n"
            "See `inferplan estimate\nb.yaml` and `make test`.\n"
            "```python\ninferplan = 1\n```\n")
    assert [(c.args, c.line, c.where) for c in documented_commands(text)] == [
        (("memory", "a.yaml", "--json"), 2, "fence"), (("estimate", "b.yaml"), 4, "inline")]


@pytest.mark.parametrize("command", sorted(RUN))
def test_every_file_a_command_names_exists(command: str) -> None:
    for word in shlex.split(command)[1:]:
        if re.fullmatch(r"[\w./-]+\.(?:ya?ml|csv)", word):
            assert (ROOT / word).is_file(), f"{RUN[command]}: no file {word}"


@pytest.mark.parametrize("command", sorted([*RUN, *SMALLER]))
def test_documented_command_runs(command: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("docs", "examples"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    for key, value in TERMINAL_ENV.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    if command in SMALLER:
        from inferplan.validate_serving import bundled_serving_text
        lines = bundled_serving_text().splitlines()
        (tmp_path / "serving20.csv").write_text("\n".join(lines[:21]) + "\n")
        args = [a.format(serving20="serving20.csv") for a in SMALLER[command]]
    else:
        args = shlex.split(command)[1:]
    with pytest.raises(SystemExit) as done:
        main(args)
    out = capsys.readouterr()
    code = done.value.code or 0
    assert code == EXPECTED_EXIT.get(command, 0), (
        f"`{command}` ({', '.join(RUN.get(command, ['SMALLER']))}) exited {code}:\n"
        f"{out.out[-2000:]}{out.err[-2000:]}")


def test_skip_list_is_reasoned() -> None:
    assert all(SKIPPED.values())
    assert set(SMALLER) <= set(SLOW)
