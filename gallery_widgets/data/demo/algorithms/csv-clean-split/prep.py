"""Data preparation step: clean a CSV and split it into train and test files."""

import csv
import random
from pathlib import Path

import gallery_widgets as gw


def read_rows(path):
    """The rows of a CSV file, or of the first CSV file in a folder (another step's output)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise FileNotFoundError(f"no CSV file in {path}")
        path = files[0]
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path, columns, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def main(params, inputs, outputs):
    columns, rows = read_rows(inputs["raw"])
    dropped_columns = [c.strip() for c in params["drop_columns"].split(",") if c.strip()]
    missing = sorted(set(dropped_columns) - set(columns))
    if missing:
        raise ValueError(f"drop_columns names unknown column(s) {missing}; the file has {columns}")
    columns = [c for c in columns if c not in dropped_columns]
    print(f"read {len(rows)} rows with columns {columns}")
    clean = []
    for row in rows:
        values = {c: (row.get(c) or "").strip() for c in columns}
        if all(values.values()):
            clean.append(values)
    print(f"dropped {len(rows) - len(clean)} incomplete rows")
    gw.report(progress=0.5)
    if not params["keep_order"]:
        random.Random(params["seed"]).shuffle(clean)
    cut = len(clean) - int(round(len(clean) * params["test_fraction"]))
    write_rows(outputs["train"] / "train.csv", columns, clean[:cut])
    write_rows(outputs["test"] / "test.csv", columns, clean[cut:])
    print(f"wrote {cut} training rows and {len(clean) - cut} test rows")
    gw.report(progress=1.0)
    return {"rows_in": len(rows), "rows_dropped": len(rows) - len(clean), "rows_train": cut,
            "rows_test": len(clean) - cut}
