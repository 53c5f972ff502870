"""A fast start (issue 12): the command's help loads none of the heavy modules, bundled
YAML parses the same through the C loader as through PyYAML's pure-Python one, and a chip
answered from its own file is the catalog's chip. The timings are in
`benchmarks/bench_startup.py`, not here."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import yaml

from inferplan.hardware import catalog_chip, hardware_catalog
from inferplan.units import parse_bundled_yaml

#: What `inferplan --help` must not import: each costs tens of ms, or parses a catalog.
HEAVY = ("numpy", "pydantic", "yaml", "inferplan.models", "inferplan.hardware",
         "inferplan.serving", "inferplan.report", "inferplan.cli.actions")

PROBE = """
import sys
from inferplan.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("loaded:" + ",".join(sorted(m for m in sys.modules if m in {heavy!r} or m.startswith(
    "inferplan.cli.actions."))), file=sys.stderr)
"""


def loaded_after(argv: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)],
                         capture_output=True, text=True, timeout=60, check=True)
    last = [line for line in out.stderr.splitlines() if line.startswith("loaded:")][-1]
    return [m for m in last.removeprefix("loaded:").split(",") if m]


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_help_loads_no_heavy_module(argv: list[str]) -> None:
    assert loaded_after(argv) == []


@pytest.mark.parametrize("command", ["estimate", "search", "buckets", "validate", "sweep"])
def test_a_command_help_loads_none_of_ours(command: str) -> None:
    # typer itself builds a command's option parsers with pydantic (typer._adapters)
    assert set(loaded_after([command, "--help"])) <= {"pydantic"}


def test_a_command_loads_its_work_only_when_run() -> None:
    loaded = loaded_after(["hardware", "--json"])
    assert "inferplan.cli.actions.catalog" in loaded and "inferplan.hardware" in loaded
    assert "inferplan.cli.actions.search" not in loaded


def bundled_yaml_files() -> list[str]:
    root = resources.files("inferplan") / "data"
    found: list[str] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        for item in folder.iterdir():
            if item.is_dir():
                stack.append(item)
            elif item.name.endswith(".yaml"):
                found.append(str(item))
    return sorted(found)


def test_every_bundled_yaml_file_is_found() -> None:
    names = {p.rsplit("/", 1)[-1] for p in bundled_yaml_files()}
    assert {"h100-sxm.yaml", "efficiency.yaml", "vllm.yaml", "default.yaml"} <= names


@pytest.mark.parametrize("path", bundled_yaml_files(), ids=lambda p: p.split("data/")[-1])
def test_bundled_yaml_parses_as_the_python_loader_does(path: str) -> None:
    text = Path(path).read_text(encoding="utf-8")
    assert parse_bundled_yaml(text) == yaml.safe_load(text)


def test_the_c_loader_is_used_where_pyyaml_has_it() -> None:
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml")
    # a tag the C and Python loaders report differently: the C parser's problem text
    with pytest.raises(yaml.YAMLError) as c_error:
        parse_bundled_yaml("a: [1, 2")
    with pytest.raises(yaml.YAMLError) as py_error:
        yaml.safe_load("a: [1, 2")
    assert str(c_error.value) != str(py_error.value)


@pytest.mark.parametrize("name", sorted(hardware_catalog()))
def test_a_chip_from_its_own_file_is_the_catalog_chip(name: str) -> None:
    assert catalog_chip(name) is hardware_catalog()[name]
