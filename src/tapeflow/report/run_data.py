"""A results folder read back for the tear sheet: the Parquet tables as int64 arrays and ``run.json``.

The folder is what ``tapeflow backtest --out`` writes (docs/REPORTS.md lists the files). ``orders``, ``fills``,
``equity`` and ``run.json`` are required: without them there is no run to show, and ``load_run`` says which is
missing in one line (a ``DataError``). The market samples (``top``, ``depth``, ``order_marks``) are optional:
an older folder, or a bar run, simply shows fewer charts. Money stays int 1/10,000 dollar here; the figures
convert to dollars at the edge (Decimal-exact where a number is printed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tapeflow.model.errors import DataError

REQUIRED = ("orders", "fills", "equity")
OPTIONAL = ("top", "depth", "order_marks")
IntArray = npt.NDArray[np.int64]


class Table:
    """One Parquet file: int columns as int64 arrays (nulls as ``null``), strings as lists, and its metadata."""

    def __init__(self, raw: Any, null: int = 0) -> None:
        self.rows: int = raw.num_rows
        self.meta: dict[str, str] = {k.decode(): v.decode() for k, v in (raw.schema.metadata or {}).items()}
        self._raw = raw
        self._null = null

    def ints(self, name: str) -> IntArray:
        column = self._raw.column(name)
        filled = column.fill_null(self._null) if column.null_count else column
        return np.asarray(filled.to_numpy(), dtype=np.int64)

    def has_nulls(self, name: str) -> npt.NDArray[np.bool_]:
        return np.asarray(self._raw.column(name).is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)

    def strings(self, name: str) -> list[str]:
        return [str(v) for v in self._raw.column(name).cast("string").to_pylist()]

    def names(self) -> list[str]:
        return list(self._raw.column_names)


class RunData(msgspec.Struct, kw_only=True):
    """Everything the tear sheet draws from; ``run`` is ``run.json`` as a dict."""

    folder: str
    run: dict[str, Any]
    tables: dict[str, Table]

    def table(self, stem: str) -> Table | None:
        return self.tables.get(stem)


def load_run(folder: str | Path) -> RunData:
    """Read a results folder; a missing folder or file, or one that is not what it claims, is a ``DataError``."""
    path = Path(folder)
    if not path.is_dir():
        raise DataError("not a results folder (run `tapeflow backtest CONFIG --out FOLDER` first)", path=path)
    run_json = path / "run.json"
    missing = [f"{stem}.parquet" for stem in REQUIRED if not (path / f"{stem}.parquet").is_file()]
    if not run_json.is_file():
        missing.append("run.json")
    if missing:
        raise DataError(
            f"results folder without {', '.join(missing)}; write it with `tapeflow backtest CONFIG --out FOLDER`",
            path=path,
        )
    try:
        run = msgspec.json.decode(run_json.read_bytes())
    except msgspec.DecodeError as exc:
        raise DataError(f"not valid JSON: {exc}", path=run_json) from None
    if not isinstance(run, dict) or not isinstance(run.get("summary"), dict):
        raise DataError("no run summary in it (expected the object `tapeflow backtest --json` prints)", path=run_json)
    tables: dict[str, Table] = {}
    for stem in (*REQUIRED, *OPTIONAL):
        file = path / f"{stem}.parquet"
        if not file.is_file():
            continue
        try:
            tables[stem] = Table(pq.read_table(str(file)))
        except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
            raise DataError(f"cannot read it as Parquet: {exc}", path=file) from None
    return RunData(folder=str(path), run=run, tables=tables)
