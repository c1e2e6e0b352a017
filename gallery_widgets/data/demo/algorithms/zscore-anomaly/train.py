"""Rolling z-score anomaly detection for sensor streams."""

import csv
import json
import math
from pathlib import Path

import gallery_widgets as gw


def read_table(path):
    path = Path(path)
    if path.is_dir():
        path = sorted(path.glob("*.csv"))[0]
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main(params, inputs, outputs):
    rows = read_table(inputs["data"])
    column, window, threshold = params["column"], params["window"], params["threshold"]
    values = [float(r[column]) for r in rows]
    flagged = []
    history = []
    for i, (row, value) in enumerate(zip(rows, values)):
        if len(history) >= 3:
            mean = sum(history) / len(history)
            std = math.sqrt(sum((v - mean) ** 2 for v in history) / len(history)) or 1e-9
            z = (value - mean) / std
            if abs(z) > threshold:
                flagged.append({**row, "zscore": round(z, 2)})
                continue  # an anomaly does not enter the baseline
        history = (history + [value])[-window:]
        if i % 50 == 0:
            gw.report(progress=i / len(rows))
    with open(outputs["anomalies"] / "anomalies.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) + ["zscore"])
        writer.writeheader()
        writer.writerows(flagged)
    (outputs["anomalies"] / "thresholds.json").write_text(json.dumps(
        {"column": column, "window": window, "threshold": threshold}))
    for item in flagged:
        print(f"anomaly: {item}")
    gw.report(progress=1.0)
    return {"anomalies": len(flagged), "readings": len(rows), "anomaly_rate": round(len(flagged) / len(rows), 4)}
