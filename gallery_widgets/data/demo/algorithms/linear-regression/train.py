"""Least-squares linear regression with an optional ridge penalty (standard library only)."""

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


def solve(a, b):
    """Gaussian elimination with partial pivoting: the x with a @ x = b."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            raise ValueError("the features are collinear; drop one or use l2 > 0")
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                factor = m[r][col] / m[col][col]
                m[r] = [x - factor * y for x, y in zip(m[r], m[col])]
    return [m[i][n] / m[i][i] for i in range(n)]


def main(params, inputs, outputs):
    rows = read_table(inputs["data"])
    target = params["target"]
    ignored = {c.strip() for c in params["ignore_columns"].split(",") if c.strip()}
    features = [c for c in rows[0] if c != target and c not in ignored]
    x = [[float(r[c]) for c in features] for r in rows]
    y = [float(r[target]) for r in rows]
    n, k = len(x), len(features)
    means = [sum(col) / n for col in zip(*x)]
    stds = [math.sqrt(sum((v - mu) ** 2 for v in col) / n) or 1.0 for col, mu in zip(zip(*x), means)]
    z = [[1.0] + [(v - mu) / sd for v, mu, sd in zip(row, means, stds)] for row in x]
    xtx = [[sum(r[i] * r[j] for r in z) + (params["l2"] if i == j and i > 0 else 0.0) for j in range(k + 1)]
           for i in range(k + 1)]
    xty = [sum(r[i] * t for r, t in zip(z, y)) for i in range(k + 1)]
    gw.report(progress=0.5)
    beta = solve(xtx, xty)
    predictions = [sum(b * v for b, v in zip(beta, r)) for r in z]
    mean_y = sum(y) / n
    ss_res = sum((t - p) ** 2 for t, p in zip(y, predictions))
    ss_tot = sum((t - mean_y) ** 2 for t in y) or 1.0
    coefficients = {f: b / sd for f, b, sd in zip(features, beta[1:], stds)}
    intercept = beta[0] - sum(coefficients[f] * mu for f, mu in zip(features, means))
    (outputs["model"] / "model.json").write_text(json.dumps(
        {"target": target, "intercept": intercept, "coefficients": coefficients}, indent=1))
    for name, value in coefficients.items():
        print(f"{name:>16}: {value:12.3f}")
    gw.report(progress=1.0)
    return {"r2": round(1 - ss_res / ss_tot, 4), "rmse": round(math.sqrt(ss_res / n), 3), "rows": n}
