"""Additive Holt-Winters: level + trend + season, fitted in one pass."""

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


def fit(values, alpha, beta, gamma, m):
    if len(values) < 2 * m:
        raise ValueError(f"need at least two seasons ({2 * m} values), got {len(values)}")
    level = sum(values[:m]) / m
    trend = (sum(values[m:2 * m]) - sum(values[:m])) / (m * m)
    season = [v - level for v in values[:m]]
    errors = []
    for t in range(m, len(values)):
        prediction = level + trend + season[t % m]
        errors.append(values[t] - prediction)
        previous = level
        level = alpha * (values[t] - season[t % m]) + (1 - alpha) * (level + trend)
        trend = beta * (level - previous) + (1 - beta) * trend
        season[t % m] = gamma * (values[t] - level) + (1 - gamma) * season[t % m]
    return level, trend, season, errors


def main(params, inputs, outputs):
    values = read_values(inputs["history"], params["column"])
    m = params["season_length"]
    print(f"fitting Holt-Winters on {len(values)} values (season {m})")
    level, trend, season, errors = fit(values, params["alpha"], params["beta"], params["gamma"], m)
    gw.report(progress=0.7)
    n = len(values)
    forecast = [level + (h + 1) * trend + season[(n + h) % m] for h in range(params["horizon"])]
    recent = errors[-28:]
    mae = sum(abs(e) for e in recent) / len(recent)
    rmse = (sum(e * e for e in recent) / len(recent)) ** 0.5
    model = {"level": level, "trend": trend, "season": season, "season_length": m, "observations": n}
    (outputs["model"] / "model.json").write_text(json.dumps(model, indent=1))
    with open(outputs["model"] / "forecast.csv", "w", encoding="utf-8") as handle:
        handle.write("step,forecast\n")
        handle.writelines(f"{h + 1},{value:.3f}\n" for h, value in enumerate(forecast))
    print(f"MAE over the last 28 one-step forecasts: {mae:.2f}")
    gw.report(progress=1.0, mae=round(mae, 3))
    return {"mae": round(mae, 3), "rmse": round(rmse, 3), "trend_per_period": round(trend, 4),
            "forecast_next": round(forecast[0], 2)}
