"""Reading and writing user files (scenarios, configs, chip YAMLs, length data, outputs):
the only place that does. Every failure is one `InferplanError` naming the path and the
cause: a missing file, a folder, no permission, bytes that are not UTF-8, YAML or JSON
that does not parse, nests too deep or expands too far (an alias bomb), a full disk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from inferplan.units import InferplanError

#: Most nodes a YAML document may hold once its aliases are expanded. A scenario has
#: tens; a 50,000-length list 50,001; "billion laughs" (9 aliases of 9, nine deep) 10⁹.
MAX_YAML_NODES = 1_000_000
#: Deepest nesting of lists and mappings a YAML or JSON input may have (a scenario: 3).
MAX_NESTING = 64


def read_text(path: str | Path, field: str = "file") -> str:
    """A UTF-8 text file's contents; errors name the path and why it cannot be read."""
    p = Path(path)
    if p.is_dir():
        raise InferplanError(field, str(path), "is a folder; give a file")
    if not p.is_file():
        raise InferplanError(field, str(path), "no such file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InferplanError(field, str(path), f"cannot be read: {exc.strerror or exc}"
                             ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InferplanError(field, str(path), f"is not UTF-8 text (byte 0x{data[exc.start]:02x}"
                             f" on line {line}); save it as UTF-8") from None


def _yaml_node_counts(root: yaml.Node) -> tuple[int, int]:
    """(nodes once every alias is expanded, deepest nesting) of a composed YAML document,
    without expanding it: each node is visited once, its counts memoised. A recursive
    alias (a node inside itself) is an error."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        key = id(node)
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        if closing:
            open_nodes.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if size[key] > MAX_YAML_NODES or depth[key] > MAX_NESTING:
                return size[key], depth[key]
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise yaml.YAMLError("an alias refers to a node that contains it")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)
    return size[id(root)], depth[id(root)]


def _json_depth(data: object) -> int:
    """Deepest nesting of lists and objects in parsed JSON (a tree), iteratively."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if deepest > MAX_NESTING:
                break
            values = item.values() if isinstance(item, dict) else item
            stack.extend((v, level + 1) for v in values)
    return deepest


def parse_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing documents that nest deeper than MAX_NESTING or expand to
    more than MAX_YAML_NODES nodes through aliases (checked on the composed node graph,
    before anything is built), and turning PyYAML's own ValueError/KeyError for bad tags
    (`!!float eight`, `!!bool maybe`, `!!timestamp 2024-13-45`) into `yaml.YAMLError`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        nodes, deepest = _yaml_node_counts(node)
        if deepest > MAX_NESTING:
            raise yaml.YAMLError(f"nests deeper than {MAX_NESTING} levels")
        if nodes > MAX_YAML_NODES:
            raise yaml.YAMLError(f"expands to more than {MAX_YAML_NODES:,} values through "
                                 "aliases (*name); write the values out")
        return loader.construct_document(node)
    except RecursionError:
        raise yaml.YAMLError(f"nests deeper than {MAX_NESTING} levels") from None
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise yaml.YAMLError(f"a value does not match its tag ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    finally:
        loader.dispose()


def parse_json(text: str) -> Any:
    """`json.loads`, refusing nesting deeper than MAX_NESTING; errors are ValueError."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"nests deeper than {MAX_NESTING} levels") from None
    if _json_depth(data) > MAX_NESTING:
        raise ValueError(f"nests deeper than {MAX_NESTING} levels")
    return data


def read_mapping(path: str | Path, field: str = "file") -> dict[str, Any]:
    """Parse a YAML or JSON file that must hold one object; errors name the file."""
    p = Path(path)
    text = read_text(p, field)
    kind = "JSON" if p.suffix == ".json" else "YAML"
    try:
        data = parse_json(text) if kind == "JSON" else parse_yaml(text)
    except (ValueError, yaml.YAMLError) as exc:   # json.JSONDecodeError is a ValueError
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InferplanError(field, str(path), f"is not valid {kind}: {first}") from None
    if not isinstance(data, dict):
        raise InferplanError(field, str(path), "must contain a mapping (key: value) at top level")
    return data


def check_output_file(path: str | Path, field: str) -> Path:
    """An output file's path, checked before any work: its folder exists, it is not a
    folder itself."""
    p = Path(path)
    if p.is_dir():
        raise InferplanError(field, str(path), "is a folder; give a file name")
    if not p.resolve().parent.is_dir():
        raise InferplanError(field, str(path), "a file in an existing folder")
    return p


@contextmanager
def writing(path: str | Path, field: str) -> Iterator[Path]:
    """Around code that writes `path`: check it first, and turn an OSError (no
    permission, disk full) into one line naming the path."""
    p = check_output_file(path, field)
    try:
        yield p
    except OSError as exc:
        raise InferplanError(field, str(path), f"cannot be written: {exc.strerror or exc}"
                             ) from None


def write_text(path: str | Path, text: str, field: str) -> None:
    """Write a UTF-8 text file; errors name the path and the cause."""
    with writing(path, field) as p:
        p.write_text(text, encoding="utf-8")


def looks_like_path(ref: str) -> bool:
    """A scenario's `model`/`hardware` value names a file rather than a catalog entry."""
    return ref.endswith((".json", ".yaml", ".yml")) or "/" in ref or "\\" in ref
