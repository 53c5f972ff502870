"""A sweep's results folder: written incrementally, each key once, readable at any time.

    OUT/parts/part-000001.parquet   one file per landed shard (written whole, then renamed)
    OUT/results.csv                 every row so far, appended as shards land
    OUT/results.parquet             every row, in point order, when the sweep ends

A killed driver leaves whole part files behind (a part is renamed into place only once
written) and a CSV that may end in half a line; the next run reads the keys the folder
holds, skips those points, rewrites the CSV from the Parquet rows, and at its end folds
the parts into `results.parquet`. `read_results` reads the folder (or either file) back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from inferplan.sweep.columns import COLUMNS, Row, arrow_schema
from inferplan.units import InferplanError

RESULTS_PARQUET = "results.parquet"
RESULTS_CSV = "results.csv"
PARTS = "parts"


def _unique_sorted(table: Any) -> Any:
    """Rows with the first of each key kept, in point order (`index`, then key)."""
    import pyarrow.compute as pc

    keys = table.column("key").to_pylist()
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    if len(first) < len(keys):
        table = table.take(sorted(first.values()))
    return table.take(pc.sort_indices(table, sort_keys=[("index", "ascending"),
                                                        ("key", "ascending")]))


def _read_parquet(path: Path) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, schema=arrow_schema())
    except (OSError, ValueError) as exc:   # pyarrow's ArrowInvalid is a ValueError
        raise InferplanError("results", str(path), f"cannot be read as sweep results: "
                             f"{(str(exc).splitlines() or ['?'])[0]}") from None


def _read_csv(path: Path) -> Any:
    import pyarrow.csv as pacsv

    schema = arrow_schema()
    try:
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={f.name: f.type for f in schema}, strings_can_be_null=True,
            include_columns=list(COLUMNS)))
    except (OSError, ValueError, KeyError) as exc:
        raise InferplanError("results", str(path), f"cannot be read as sweep results: "
                             f"{(str(exc).splitlines() or ['?'])[0]}") from None


def _folder_table(folder: Path) -> Any | None:
    """Every row a results folder holds (results.parquet and the parts not yet folded in),
    each key once, in point order; None when it holds no Parquet results."""
    import pyarrow as pa

    files = ([folder / RESULTS_PARQUET] if (folder / RESULTS_PARQUET).is_file() else [])
    files += sorted((folder / PARTS).glob("part-*.parquet"))
    if not files:
        return None
    return _unique_sorted(pa.concat_tables([_read_parquet(f) for f in files]))


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a sweep's results: a results folder (`--out`), a `results.parquet` or a
    `results.csv`; one dict per point (the columns of `sweep.columns.COLUMNS`), each key
    once, in point order. For `inferplan report` and notebooks."""
    p = Path(path)
    if p.is_dir():
        table = _folder_table(p)
        if table is None and (p / RESULTS_CSV).is_file():
            table = _unique_sorted(_read_csv(p / RESULTS_CSV))
        if table is None:
            raise InferplanError("results", str(path), f"a folder without {RESULTS_PARQUET}"
                                 f", {PARTS}/ or {RESULTS_CSV}: not a sweep's --out")
    elif p.suffix == ".parquet" and p.is_file():
        table = _unique_sorted(_read_parquet(p))
    elif p.suffix == ".csv" and p.is_file():
        table = _unique_sorted(_read_csv(p))
    else:
        raise InferplanError("results", str(path), "a sweep's --out folder, or its "
                             f"{RESULTS_PARQUET} or {RESULTS_CSV}")
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


@contextmanager
def writing_folder(folder: Path) -> Iterator[None]:
    """Around code that writes into `folder`: it must not be a file, and an OSError (no
    permission, a full disk) becomes the one line naming `--out`."""
    if folder.exists() and not folder.is_dir():
        raise InferplanError("--out", str(folder), "is a file; give a folder")
    try:
        yield
    except OSError as exc:
        raise InferplanError("--out", str(folder),
                             f"cannot be written: {exc.strerror or exc}") from None


class ResultSink:
    """Writes a sweep's rows into its folder as shards land, each key once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.keys: set[str] = set()
        self._part = 0

    @classmethod
    def open(cls, folder: str | os.PathLike[str]) -> ResultSink:
        """The folder's sink (made if missing), holding the keys already written; the
        CSV is rewritten from the Parquet rows, so it never holds a half line."""
        sink = cls(Path(folder))
        with sink._writing():
            (sink.folder / PARTS).mkdir(parents=True, exist_ok=True)
            table = _folder_table(sink.folder)
            parts = sorted((sink.folder / PARTS).glob("part-*.parquet"))
            sink._part = max((int(p.stem.split("-")[1]) for p in parts), default=0)
            if table is not None:
                sink.keys = set(table.column("key").to_pylist())
                sink._replace_csv(table)
        return sink

    def _writing(self) -> AbstractContextManager[None]:
        return writing_folder(self.folder)

    def _replace_csv(self, table: Any) -> None:
        import pyarrow.csv as pacsv

        tmp = self.folder / f".{RESULTS_CSV}.tmp"
        pacsv.write_csv(table, tmp)
        os.replace(tmp, self.folder / RESULTS_CSV)

    def write(self, rows: list[Row]) -> int:
        """Write the rows whose keys are new (a part file, then the CSV); how many."""
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        fresh: list[Row] = []
        for row in rows:
            if row["key"] not in self.keys:
                self.keys.add(row["key"])
                fresh.append(row)
        if not fresh:
            return 0
        table = pa.Table.from_pylist(fresh, schema=arrow_schema())
        with self._writing():
            self._part += 1
            part = self.folder / PARTS / f"part-{self._part:06d}.parquet"
            tmp = part.with_name(f".{part.name}.tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, part)
            csv_path = self.folder / RESULTS_CSV
            header = not csv_path.is_file() or csv_path.stat().st_size == 0
            with csv_path.open("ab") as out:
                pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=header))
        return len(fresh)

    def finish(self) -> int:
        """Fold the parts into `results.parquet` (point order) and rewrite the CSV in the
        same order; the rows it holds."""
        import pyarrow.parquet as pq

        with self._writing():
            table = _folder_table(self.folder)
            if table is None:
                table = arrow_schema().empty_table()
            tmp = self.folder / f".{RESULTS_PARQUET}.tmp"
            pq.write_table(table, tmp)
            os.replace(tmp, self.folder / RESULTS_PARQUET)
            self._replace_csv(table)
            for part in (self.folder / PARTS).glob("part-*.parquet"):
                part.unlink()
        return int(table.num_rows)
