"""No network at run time (issue 13): every main command runs in-process on the bundled
examples with the process's sockets blocked. `connect`, `connect_ex`,
`socket.create_connection` and `getaddrinfo` raise for any destination but loopback and
AF_UNIX, and each attempt is recorded, so a command that caught the error and went on
would still fail here."""

from __future__ import annotations

import csv
import socket
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
#: Rows of the bundled serving CSV a quick `validate` scores (a model the test may use).
SERVING_MODEL = "Qwen/Qwen3-32B"
SERVING_ROWS = 6


class NetworkBlocked(OSError):
    """What a blocked socket call raises."""


def is_local(address: Any) -> bool:
    """Whether a host, or the host of an (host, port, ...) address, is loopback
    (127.0.0.0/8, ::1, localhost) or none (the wildcard)."""
    host = address[0] if isinstance(address, tuple) and address else address
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return host is None or host in ("localhost", "::1") or str(host).startswith("127.")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Block the process's sockets to anything but loopback and AF_UNIX paths; yields
    the attempts made (expected: none)."""
    attempts: list[str] = []

    def refuse(what: str, address: Any) -> None:
        attempts.append(f"{what} {address!r}")
        raise NetworkBlocked(f"network blocked by the test: {what} {address!r}")

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_create, real_getaddrinfo = socket.create_connection, socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family != getattr(socket, "AF_UNIX", None) and not is_local(address):
            refuse("connect", address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family != getattr(socket, "AF_UNIX", None) and not is_local(address):
            refuse("connect_ex", address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not is_local(address):
            refuse("create_connection", address)
        return real_create(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local(host):
            refuse("getaddrinfo", host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts


def serving_subset(folder: Path, model: str = SERVING_MODEL, rows: int = SERVING_ROWS
                   ) -> str:
    """A small serving CSV: the bundled file's header and its first `rows` rows of
    `model`, read row by row and no further (no Llama row is used)."""
    assert "llama" not in model.lower()
    bundled = resources.files("inferplan") / "data" / "validation" / "serving_dev.csv"
    kept: list[list[str]] = []
    with bundled.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        column = header.index("model_path")
        for row in reader:
            if row[column] == model:
                kept.append(row)
                if len(kept) == rows:
                    break
    path = folder / "serving_subset.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([header, *kept])
    return str(path)


#: Stands for the test's scratch folder in an argument list.
TMP = "{tmp}"


def resolve(args: list[str], tmp: Path) -> list[str]:
    """`args` with `TMP` replaced by the scratch folder, and the serving subset written
    there when an argument names it."""
    out = [a.replace(TMP, str(tmp)) for a in args]
    if any(a.endswith("serving_subset.csv") for a in out):
        serving_subset(tmp)
    return out


def main_commands() -> dict[str, list[str]]:
    """The main commands on the bundled examples (`TMP`: the test's scratch folder)."""
    space = str(EXAMPLES / "search" / "h100.yaml")
    return {
        "estimate default": ["estimate"],
        "estimate example": ["estimate", str(EXAMPLES / "python-api" / "closed-loop.yaml")],
        "search": ["search", space],
        "recommend": ["recommend", space, "--target-tokens-per-s", "10000"],
        "frontier": ["frontier", space],
        "disagg": ["disagg", space],
        "simulate": ["simulate", str(EXAMPLES / "sim" / "qwen3-32b-dp4-skewed.yaml")],
        "validate": ["validate"],
        "validate serving subset": ["validate", f"{TMP}/serving_subset.csv"],
        "export": ["export", str(EXAMPLES / "export" / "llama-3.1-70b-h100-vllm.yaml"),
                   "--out", f"{TMP}/run"],
        "buckets": ["buckets", str(EXAMPLES / "buckets" / "seed000.yaml")],
        "memory": ["memory"],
        "speculative": ["speculative", "--draft", "llama-3.2-1b", "--alpha", "0.7"],
        "models": ["models"],
        "hardware": ["hardware"],
        "report": ["report", "--out", f"{TMP}/report.html"],
    }


def test_the_block_stops_a_connection(no_network: list[str]) -> None:
    """The fixture works: a public address is refused and recorded; loopback is not
    blocked (it reaches the kernel, which refuses or accepts as it will)."""
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    with pytest.raises(NetworkBlocked), socket.socket() as s:
        s.connect(("example.com", 443))
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("pypi.org", 443)
    assert len(no_network) == 3
    with socket.socket() as s:
        s.settimeout(1)
        assert isinstance(s.connect_ex(("127.0.0.1", 9)), int)
    assert len(no_network) == 3


@pytest.mark.parametrize("name", list(main_commands()))
def test_main_commands_run_without_network(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        no_network: list[str]) -> None:
    code, out, err = cli(capsys, *resolve(main_commands()[name], tmp_path))
    assert code == 0, (name, err[-2000:])
    assert out.strip() or name == "report", name
    assert no_network == [], no_network
