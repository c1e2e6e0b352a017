"""Moving-average forecaster: tomorrow is the mean of the last `window` days."""

import csv
import json
from pathlib import Path

import gallery_widgets as gw


def read_values(path, column):
    path = Path(path)
    if path.is_dir():
        path = sorted(path.glob("*.csv"))[0]
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and column not in rows[0]:
        raise KeyError(f"column {column!r} is not in the file; it has {list(rows[0])}")
    return [float(r[column]) for r in rows if (r.get(column) or "").strip()]


def main(params, inputs, outputs):
    values = read_values(inputs["history"], params["column"])
    window = params["window"]
    if len(values) <= window:
        raise ValueError(f"need more than {window} values, got {len(values)}")
    # One-step-ahead backtest over the last 28 days.
    errors = []
    for t in range(max(window, len(values) - 28), len(values)):
        prediction = sum(values[t - window:t]) / window
        errors.append(abs(values[t] - prediction))
    mae = sum(errors) / len(errors)
    level = sum(values[-window:]) / window
    forecast = [round(level, 3)] * params["horizon"]
    (outputs["model"] / "forecast.json").write_text(json.dumps({"window": window, "forecast": forecast,
                                                                 "mae": mae}, indent=1))
    print(f"{len(values)} values; backtest MAE {mae:.2f}; next value {level:.2f}")
    gw.report(progress=1.0)
    return {"mae": round(mae, 4), "forecast_next": round(level, 3), "observations": len(values)}
