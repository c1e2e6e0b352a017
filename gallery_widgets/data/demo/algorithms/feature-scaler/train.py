"""Scale numeric features with pandas; keep the statistics to apply the same scaling later."""

import json
from pathlib import Path

import pandas as pd

import gallery_widgets as gw


def main(params, inputs, outputs):
    path = Path(inputs["data"])
    if path.is_dir():
        path = sorted(path.glob("*.csv"))[0]
    frame = pd.read_csv(path)
    excluded = {c.strip() for c in params["exclude"].split(",") if c.strip()}
    numeric = [c for c in frame.select_dtypes("number").columns if c not in excluded]
    stats = {}
    for column in numeric:
        series = frame[column]
        if params["method"] == "zscore":
            centre, scale = float(series.mean()), float(series.std(ddof=0)) or 1.0
        else:
            centre, scale = float(series.min()), float(series.max() - series.min()) or 1.0
        frame[column] = (series - centre) / scale
        stats[column] = {"centre": centre, "scale": scale}
    gw.report(progress=0.8)
    frame.to_csv(outputs["scaled"] / "scaled.csv", index=False)
    (outputs["scaled"] / "stats.json").write_text(json.dumps({"method": params["method"], "columns": stats}, indent=1))
    print(frame.describe().round(3).to_string())
    gw.report(progress=1.0)
    return {"rows": int(len(frame)), "scaled_columns": len(numeric)}
