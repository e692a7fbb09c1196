"""Runs as tables on disk (`run.save_table`)."""
from __future__ import annotations

from pathlib import Path

from ..core import extensions


def save_table(run, path, top: int = 20) -> Path:
    """`run.to_frame(top)` as CSV or Parquet, by the suffix."""
    path = Path(path)
    frame = run.to_frame(top=top)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise ValueError(f"table format {path.suffix!r} is not supported; use .csv or .parquet")
    return path


extensions.register("Run", "save_table", save_table)  # run.save_table(path)
