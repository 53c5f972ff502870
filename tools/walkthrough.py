"""Rerun the command blocks of a Markdown walkthrough and compare or refresh their output.

Two kinds of block are run; every other fence is left alone:

- a ```console fence whose first line is `$ inferplan ARGS...`: the rest of the fence
  is that command's output. It runs in-process (typer's CliRunner on
  `inferplan.cli.app`) from the repository root, with a fixed terminal (120 columns,
  no colour) so rich tables wrap the same everywhere.
- a ```python fence followed (blank lines allowed) by a ```text fence: the text fence
  is what the snippet prints. The snippet runs with `exec` from the repository root.

Outputs are compared with trailing spaces stripped from every line (rich pads lines
to the table width; editors strip them) and trailing blank lines dropped.

Used by tests/test_walkthrough_doc.py (check) and tools/update_walkthrough.py (refresh).
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "docs" / "serving-llama-3-70b-on-tpu-v5e.md",)

#: The terminal every block runs in: 120 columns, no colour, no tty tricks.
TERMINAL_ENV: dict[str, str | None] = {
    "COLUMNS": "120", "LINES": "200", "TERM": "dumb", "NO_COLOR": "1",
    "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None,
    "JUPYTER_COLUMNS": None,
}

FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Block:
    """One runnable block: `source` runs, its output sits in lines [start, end) of the doc."""

    kind: str            # "console" or "python"
    source: str          # the command after "$ ", or the python code
    output: str          # the output as written in the doc
    line: int            # 1-based line of the block's opening fence (for messages)
    start: int           # 0-based index of the first output line
    end: int             # 0-based index of the output's closing fence

    def label(self, doc: Path) -> str:
        what = f"$ {self.source}" if self.kind == "console" else (
            "python: " + self.source.strip().splitlines()[0])
        return f"{doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc}:{self.line} {what}"


def _fences(lines: list[str]) -> Iterator[tuple[str, int, int]]:
    """(language, opening index, closing index) of every fenced block."""
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        if j == len(lines):
            raise ValueError(f"line {i + 1}: fence ```{m.group(1)} is never closed")
        yield m.group(1), i, j
        i = j + 1


def parse_blocks(text: str) -> list[Block]:
    """The runnable blocks of a Markdown text, in order."""
    lines = text.split("\n")
    fences = list(_fences(lines))
    blocks: list[Block] = []
    for n, (lang, open_i, close_i) in enumerate(fences):
        body = lines[open_i + 1:close_i]
        if lang == "console" and body and body[0].startswith("$ inferplan"):
            blocks.append(Block("console", body[0][2:].strip(), "\n".join(body[1:]),
                                open_i + 1, open_i + 2, close_i))
        elif lang == "python" and n + 1 < len(fences):
            nxt_lang, nxt_open, nxt_close = fences[n + 1]
            between = lines[close_i + 1:nxt_open]
            if nxt_lang == "text" and all(not s.strip() for s in between):
                blocks.append(Block("python", "\n".join(body),
                                    "\n".join(lines[nxt_open + 1:nxt_close]),
                                    open_i + 1, nxt_open + 1, nxt_close))
    return blocks


@contextlib.contextmanager
def _in_root() -> Iterator[None]:
    old = Path.cwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(old)


def run_console(command: str) -> str:
    """Output of `inferplan ARGS` (stdout, then stderr) in the fixed terminal."""
    from typer.testing import CliRunner

    from inferplan.cli import app

    args = shlex.split(command)
    if not args or args[0] != "inferplan":
        raise ValueError(f"only `inferplan ...` commands run here, not {command!r}")
    with _in_root():
        result = CliRunner().invoke(app, args[1:], env=TERMINAL_ENV)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise RuntimeError(f"`{command}` raised {result.exception!r}") from result.exception
    out = result.output
    if result.exit_code != 0:
        out += f"\n[exit status {result.exit_code}]"
    return out


def run_python(code: str) -> str:
    """What a snippet prints, run from the repository root in a fresh namespace."""
    buffer = io.StringIO()
    with _in_root(), contextlib.redirect_stdout(buffer):
        exec(compile(code, "<walkthrough snippet>", "exec"), {"__name__": "__walkthrough__"})
    return buffer.getvalue()


#: Wall-clock figures a command prints ("evaluated in 0.02 s"): not model output, so a
#: fresh run is compared with them masked.
ELAPSED = re.compile(r"\bin \d+(?:\.\d+)? s\b")


def tidy(output: str) -> str:
    """Trailing spaces stripped from each line, trailing blank lines dropped."""
    return "\n".join(line.rstrip() for line in output.split("\n")).rstrip("\n")


def normalise(output: str) -> str:
    """`tidy`, with elapsed times masked: what a fresh run is compared on."""
    return ELAPSED.sub("in <elapsed> s", tidy(output))


def run_raw(block: Block) -> str:
    """The block's output as printed now (tidied, elapsed times kept)."""
    return tidy(run_console(block.source) if block.kind == "console"
                else run_python(block.source))


def run_block(block: Block) -> str:
    """The block's output as printed now, normalised for comparison."""
    return normalise(run_raw(block))


@dataclass(frozen=True)
class Stale:
    """A block whose output in the doc is not what it prints now."""

    block: Block
    fresh: str

    def message(self, doc: Path) -> str:
        diff = difflib.unified_diff(normalise(self.block.output).split("\n"),
                                    self.fresh.split("\n"), "in the doc", "printed now",
                                    lineterm="", n=1)
        return f"stale block {self.block.label(doc)}\n" + "\n".join(diff)


def check(doc: Path) -> list[Stale]:
    """Every block of `doc` whose output differs from a fresh run."""
    stale = []
    for block in parse_blocks(doc.read_text(encoding="utf-8")):
        fresh = run_block(block)
        if fresh != normalise(block.output):
            stale.append(Stale(block, fresh))
    return stale


def refresh(text: str) -> tuple[str, list[Block]]:
    """The text with every block's output replaced by a fresh run; and the blocks changed."""
    lines = text.split("\n")
    changed = []
    # bottom-up, so the indices of earlier blocks stay valid
    for block in reversed(parse_blocks(text)):
        fresh = run_raw(block)
        if normalise(fresh) == normalise(block.output):
            continue                      # only elapsed times differ, if anything
        changed.append(block)
        lines[block.start:block.end] = fresh.split("\n") if fresh else []
    return "\n".join(lines), changed[::-1]


# ------------------------------------------------- every command a doc shows
#: Fences whose lines may show a command (`$ inferplan ...`, `.venv/bin/inferplan ...`).
COMMAND_FENCES = ("console", "text", "bash", "sh", "shell", "")
_INLINE = re.compile(r"`([^`]+)`")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")


@dataclass(frozen=True)
class Command:
    """One `inferplan ...` invocation a doc shows: `args` after `inferplan`, where it is."""

    args: tuple[str, ...]
    line: int            # 1-based line in the doc
    where: str           # "fence" or "inline"

    @property
    def text(self) -> str:
        return shlex.join(("inferplan", *self.args))


def _command_args(snippet: str) -> tuple[str, ...] | None:
    """The arguments of `snippet` if it is an `inferplan` command line, else None.
    A leading `$ `, environment assignments (`COLUMNS=100`), `.venv/bin/` and a trailing
    `# comment` are dropped."""
    snippet = snippet.strip().removeprefix("$ ")
    try:
        words = shlex.split(snippet, comments=True)
    except ValueError:
        return None
    while words and _ENV.match(words[0]):
        words.pop(0)
    if not words or words[0].rsplit("/", 1)[-1] != "inferplan":
        return None
    return tuple(words[1:])


def documented_commands(text: str) -> list[Command]:
    """Every `inferplan ...` command a Markdown text shows, in order: each line of a
    ```console/```text/```bash (or bare) fence that is a command, and each inline code
    span that is one (a span may wrap across lines). Synopses with placeholders
    (`inferplan simulate SCENARIO... [--seed N]`) are returned too: the caller decides
    what to run."""
    lines = text.split("\n")
    found: list[Command] = []
    in_fence = [False] * len(lines)
    for lang, open_i, close_i in _fences(lines):
        for i in range(open_i, close_i + 1):
            in_fence[i] = True
        if lang not in COMMAND_FENCES:
            continue
        for i in range(open_i + 1, close_i):
            args = _command_args(lines[i])
            if args is not None:
                found.append(Command(args, i + 1, "fence"))
    prose = "\n".join("" if fenced else line for line, fenced in zip(lines, in_fence,
                                                                      strict=True))
    for m in _INLINE.finditer(prose):
        args = _command_args(" ".join(m.group(1).split()))
        if args is not None:
            found.append(Command(args, prose.count("\n", 0, m.start()) + 1, "inline"))
    return sorted(found, key=lambda c: c.line)
