"""Rendering of an `ExportPlan`: shell scripts, the extra-options YAML and the terminal view.
Computes nothing: every value is the plan's."""

from __future__ import annotations

import shlex

import yaml
from rich.console import Console
from rich.table import Table

from inferplan.export import ExportPlan


def shell_command(argv: tuple[str, ...]) -> str:
    """argv as one shell command, a flag and its value per continued line."""
    parts: list[str] = []
    for word in argv:
        quoted = shlex.quote(word)
        if word.startswith("--") and parts:
            parts.append(" \\\n  " + quoted)
        else:
            parts.append((" " if parts else "") + quoted)
    return "".join(parts)


def serve_script(plan: ExportPlan) -> str:
    return ("#!/bin/sh\n# inferplan export: launch " + f"{plan.engine} {plan.engine_version}\n"
            + shell_command(plan.serve_argv) + "\n")


def bench_script(plan: ExportPlan) -> str:
    return ("#!/bin/sh\n# inferplan export: benchmark client for the server above\n"
            + shell_command(plan.bench_argv) + "\n")


def extra_options_yaml(plan: ExportPlan) -> str:
    return yaml.safe_dump(plan.extra_options, sort_keys=True)


def render_export(plan: ExportPlan, console: Console) -> None:
    """The settings table, the launch command, the extra options and the benchmark."""
    table = Table(title=f"{plan.model} on {plan.engine} {plan.engine_version}")
    table.add_column("setting")
    table.add_column("value", justify="right")
    table.add_column("flag")
    for s in plan.settings:
        flag = s.flag.flag or (f"extra options: {s.flag.option}" if s.flag.option else "-")
        table.add_row(s.name, "-" if s.value is None else str(s.value), flag)
    console.print(table)
    console.print(f"largest batch that fits: {plan.max_batch}; benchmark concurrency: "
                  f"{plan.concurrency}", highlight=False)
    console.print("\n# launch", highlight=False)
    console.print(shell_command(plan.serve_argv), highlight=False, markup=False, soft_wrap=True)
    if plan.extra_options:
        console.print("\n# extra_llm_api_options.yaml", highlight=False, markup=False)
        console.print(extra_options_yaml(plan).rstrip(), highlight=False, markup=False)
    console.print("\n# benchmark", highlight=False)
    console.print(shell_command(plan.bench_argv), highlight=False, markup=False, soft_wrap=True)
    for note in plan.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
