"""The bundled accelerator catalog: every file validates, names and aliases resolve,
spot values match the reference notes, and bad user YAML is rejected by field."""

from __future__ import annotations

import copy
import math
from importlib import resources
from typing import Any

import pytest
import yaml

from inferplan.hardware import (
    ChipSpec,
    catalog_chip,
    chip_from_dict,
    default_topology,
    hardware_catalog,
)
from inferplan.units import DTYPES, InferplanError

EXPECTED = {
    "a100-40gb-sxm", "a100-80gb-sxm", "a100-80gb-pcie", "h100-sxm", "h100-pcie", "h100-nvl",
    "h800-sxm", "h200-sxm", "h200-nvl", "gh200", "b200", "b300", "gb200", "gb300", "l40s", "l4",
    "mi300x", "mi325x", "mi355x", "tpu-v4", "tpu-v5e", "tpu-v5e-scaling-book", "tpu-v5p",
    "tpu-v6e", "tpu-7x", "gaudi2", "gaudi3", "inferentia2", "trainium2", "rngd",
    "rebellions-atom",
}


def _catalog_files() -> list[tuple[str, dict[str, Any]]]:
    folder = resources.files("inferplan") / "data" / "hardware"
    return [(item.name, yaml.safe_load(item.read_text(encoding="utf-8")))
            for item in sorted(folder.iterdir(), key=lambda p: p.name)
            if item.name.endswith(".yaml")]


FILES = _catalog_files()


def _raw(name: str) -> dict[str, Any]:
    for file_name, raw in FILES:
        if file_name == f"{name}.yaml":
            return copy.deepcopy(raw)
    raise KeyError(name)


# ------------------------------------------------------------------ catalog shape
def test_catalog_has_at_least_25_chips() -> None:
    assert len(hardware_catalog()) >= 25


def test_catalog_holds_every_expected_chip() -> None:
    assert set(hardware_catalog()) >= EXPECTED


@pytest.mark.parametrize(("file_name", "raw"), FILES, ids=[f for f, _ in FILES])
def test_every_file_validates_and_is_named_after_its_chip(file_name: str,
                                                         raw: dict[str, Any]) -> None:
    chip = chip_from_dict(raw, origin=file_name)
    assert isinstance(chip, ChipSpec)
    assert file_name == f"{chip.name}.yaml"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_chip_has_bf16_and_sane_numbers(name: str) -> None:
    chip = catalog_chip(name)
    assert "bf16" in chip.peak_flops_per_s
    assert set(chip.peak_flops_per_s) <= set(DTYPES)
    for dtype, rate in chip.peak_flops_per_s.items():
        assert 1e12 < rate < 1e17, (dtype, rate)
    # fp16 equals bf16 wherever both are listed
    if "fp16" in chip.peak_flops_per_s:
        assert chip.peak_flops_per_s["fp16"] == chip.peak_flops_per_s["bf16"]
    assert 1e9 < chip.memory_bytes < 1e12
    assert 1e10 < chip.memory_bandwidth_bytes_per_s < 1e14
    assert chip.interconnect is not None
    if chip.price_usd_per_chip_hour is not None:
        assert chip.price_note


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tpu_slice_shapes_match_torus_dims(name: str) -> None:
    su = catalog_chip(name).scale_up
    if su.topology == "torus":
        assert all(len(shape) == su.dims for shape in su.slice_shapes)
    if su.slice_shapes:
        assert su.topology == "torus"


# ------------------------------------------------------------------ aliases
def test_aliases_are_unique_and_never_shadow_a_name() -> None:
    catalog = hardware_catalog()
    owner: dict[str, str] = {}
    for chip in catalog.values():
        for alias in chip.aliases:
            key = alias.lower()
            assert key not in catalog, f"alias {alias!r} of {chip.name} is a chip name"
            assert key not in owner, f"alias {alias!r} on {chip.name} and {owner.get(key)}"
            owner[key] = chip.name


@pytest.mark.parametrize(
    ("alias", "name"),
    [(a, c.name) for c in hardware_catalog().values() for a in c.aliases])
def test_every_alias_resolves(alias: str, name: str) -> None:
    assert catalog_chip(alias).name == name
    assert catalog_chip(alias.upper()).name == name


@pytest.mark.parametrize(("alias", "name"), [
    ("h100", "h100-sxm"), ("H100 SXM", "h100-sxm"), ("h100-sxm5", "h100-sxm"),
    ("mi300", "mi300x"), ("v5p", "tpu-v5p"), ("trillium", "tpu-v6e"),
    ("ironwood", "tpu-7x"), ("furiosa-rngd", "rngd"), ("renegade", "rngd"),
])
def test_common_spellings(alias: str, name: str) -> None:
    assert catalog_chip(alias).name == name


def test_unknown_chip_suggests_close_names() -> None:
    with pytest.raises(InferplanError, match="h100"):
        catalog_chip("h1000")


# ------------------------------------------------------------------ spot values
def test_h100_sxm_spot_values() -> None:
    chip = catalog_chip("h100-sxm")
    assert chip.peak_flops_per_s["bf16"] == pytest.approx(989e12, rel=0.01)  # dense, not 1,979
    assert chip.peak_flops_per_s["fp8"] == pytest.approx(1979e12, rel=0.01)
    assert chip.memory_bytes == 80e9
    assert chip.memory_bandwidth_bytes_per_s == pytest.approx(3.35e12)
    assert chip.interconnect is not None
    assert chip.interconnect.bandwidth_bytes_per_s_per_direction == pytest.approx(450e9)
    assert chip.scale_up.topology == "switch" and chip.scale_up.max_chips == 8
    assert chip.scale_out is not None
    assert chip.scale_out.bandwidth_bytes_per_s_per_direction == pytest.approx(50e9)


def test_v5e_scaling_book_spot_values() -> None:
    chip = catalog_chip("tpu-v5e-scaling-book")
    assert chip.memory_bandwidth_bytes_per_s == pytest.approx(8.2e11)
    assert chip.memory_bytes == 16e9
    assert chip.peak_flops_per_s == {"bf16": pytest.approx(1.97e14),
                                     "int8": pytest.approx(3.94e14)}
    assert chip.interconnect is not None
    assert chip.interconnect.bandwidth_bytes_per_s_per_direction == pytest.approx(4.5e10)
    assert chip.price_usd_per_chip_hour == pytest.approx(1.2)
    # the book's critical intensity, ~240 FLOP/byte
    assert chip.peak_flops_per_s["bf16"] / chip.memory_bandwidth_bytes_per_s == \
        pytest.approx(240, rel=0.01)
    assert chip.notes and "reproduce" in chip.notes
    # same slicing rules as the spec-sheet v5e
    assert chip.scale_up == catalog_chip("tpu-v5e").scale_up


def test_rngd_spot_values() -> None:
    chip = catalog_chip("rngd")
    assert chip.cores_per_chip == 8
    assert chip.core_name == "PE"
    assert chip.memory_bytes == 48e9
    assert chip.memory_bandwidth_bytes_per_s == pytest.approx(1.5e12)
    assert chip.peak_flops_per_s == {"bf16": pytest.approx(256e12), "fp8": pytest.approx(512e12),
                                     "int8": pytest.approx(512e12),
                                     "int4": pytest.approx(1024e12)}
    assert chip.sram_bytes == 256 * 2**20
    assert chip.core_memory_bytes == pytest.approx(6e9)
    assert chip.scale_up.topology == "pcie" and chip.scale_up.max_chips == 8


def test_memory_units_follow_the_vendor() -> None:
    gib = 2**30
    assert catalog_chip("tpu-v4").memory_bytes == 32 * gib
    assert catalog_chip("inferentia2").memory_bytes == 32 * gib
    assert catalog_chip("trainium2").memory_bytes == 96 * gib
    assert catalog_chip("b200").memory_bytes == 180e9
    assert catalog_chip("mi300x").memory_bytes == 192e9


def test_interconnect_conventions() -> None:
    # fully connected boxes give one peer link per direction and the peer count
    mi300x = catalog_chip("mi300x")
    assert mi300x.scale_up.topology == "fully_connected"
    assert mi300x.interconnect is not None
    assert mi300x.interconnect.links_per_chip == 7
    assert mi300x.interconnect.bandwidth_bytes_per_s_per_direction == pytest.approx(64e9)
    # switched boxes give the whole egress per direction
    for name, egress in (("a100-80gb-sxm", 300e9), ("b200", 900e9), ("gb200", 900e9),
                         ("h800-sxm", 200e9)):
        link = catalog_chip(name).interconnect
        assert link is not None
        assert link.bandwidth_bytes_per_s_per_direction == pytest.approx(egress), name
    assert catalog_chip("gb200").scale_up.max_chips == 72


def test_tpu_torus_rules() -> None:
    v5e = catalog_chip("tpu-v5e")
    assert default_topology(v5e, 8).shape == (2, 4)
    for name in ("tpu-v4", "tpu-v5p", "tpu-7x"):
        su = catalog_chip(name).scale_up
        assert su.dims == 3 and su.wraparound == "full_axis" and su.wraparound_axis_len == 4
        assert all(math.prod(s) <= su.max_chips for s in su.slice_shapes)
    assert default_topology(catalog_chip("tpu-v4"), 64).describe() == \
        "4x4x4 torus (wrap, wrap, wrap)"


def test_every_stated_number_has_a_source() -> None:
    for chip in hardware_catalog().values():
        for field in ("memory_bytes", "memory_bandwidth_bytes_per_s", "peak_flops_per_s"):
            assert chip.sources.get(field), (chip.name, field)


# ------------------------------------------------------------------ user YAML errors
def test_user_yaml_missing_a_source_names_the_field() -> None:
    raw = _raw("h100-sxm")
    raw["name"] = "my-h100"
    raw["aliases"] = []
    del raw["sources"]["memory_bandwidth_bytes_per_s"]
    with pytest.raises(InferplanError, match="memory_bandwidth_bytes_per_s") as info:
        chip_from_dict(raw, origin="my-h100.yaml")
    assert "sources" in str(info.value)
    assert info.value.field.startswith("my-h100.yaml")


def test_user_yaml_missing_a_source_for_an_optional_number() -> None:
    raw = _raw("rngd")
    raw["name"] = "my-rngd"
    del raw["sources"]["tdp_watts"]
    with pytest.raises(InferplanError, match="tdp_watts"):
        chip_from_dict(raw)


def test_user_yaml_bad_dtype_key_names_the_field() -> None:
    raw = _raw("l4")
    raw["name"] = "my-l4"
    raw["peak_flops_per_s"]["fp6"] = 1e14
    with pytest.raises(InferplanError, match="peak_flops_per_s") as info:
        chip_from_dict(raw)
    assert "fp6" in str(info.value)


def test_user_yaml_without_bf16_is_rejected() -> None:
    raw = _raw("l4")
    raw["name"] = "my-l4"
    del raw["peak_flops_per_s"]["bf16"]
    with pytest.raises(InferplanError, match="bf16"):
        chip_from_dict(raw)


def test_user_yaml_bad_field_value_names_the_field() -> None:
    raw = _raw("l4")
    raw["name"] = "my-l4"
    raw["memory_bytes"] = -1
    with pytest.raises(InferplanError, match="memory_bytes"):
        chip_from_dict(raw)


def test_user_yaml_round_trip_validates() -> None:
    raw = _raw("h100-sxm")
    raw["name"] = "my-h100"
    raw["aliases"] = []
    chip = chip_from_dict(raw)
    assert chip.peak_flops_per_s == catalog_chip("h100-sxm").peak_flops_per_s


def test_gb300_spot_values() -> None:
    # NVIDIA GB300 NVL72 per GPU, dense: the rack's 1,080 / 360 / 180 PF over 72 GPUs,
    # 288 GB HBM3e at 8 TB/s, NVLink 5 at 900 GB/s per direction in a 72-GPU domain
    chip = catalog_chip("GB300 NVL72")
    assert chip.name == "gb300"
    assert chip.peak_flops_per_s["fp4"] == pytest.approx(1080e15 / 72)
    assert chip.peak_flops_per_s["fp8"] == pytest.approx(360e15 / 72)
    assert chip.peak_flops_per_s["bf16"] == pytest.approx(180e15 / 72)
    assert chip.peak_flops_per_s["int8"] < chip.peak_flops_per_s["bf16"] / 10  # cut on Ultra
    assert chip.memory_bytes == 288e9
    assert chip.memory_bandwidth_bytes_per_s == pytest.approx(576e12 / 72)
    assert chip.interconnect is not None
    assert chip.interconnect.bandwidth_bytes_per_s_per_direction == pytest.approx(1.8e12 / 2)
    assert chip.scale_up.topology == "switch" and chip.scale_up.max_chips == 72
    assert chip.tdp_watts == 1400
    # the same Blackwell Ultra silicon as HGX B300, at a higher power limit
    b300 = catalog_chip("b300")
    assert chip.memory_bytes == b300.memory_bytes
    assert chip.peak_flops_per_s["fp4"] > b300.peak_flops_per_s["fp4"]
