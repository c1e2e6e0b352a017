"""Logistic regression by full-batch gradient descent on standardised features."""

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


def sigmoid(z):
    return 1 / (1 + math.exp(-max(-35.0, min(35.0, z))))


def auc(labels, scores):
    """Area under the ROC curve by the rank-sum formula."""
    ranked = sorted(zip(scores, labels))
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return float("nan")
    rank_sum = sum(i + 1 for i, (_, label) in enumerate(ranked) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def main(params, inputs, outputs):
    rows = [r for r in read_table(inputs["data"]) if all((v or "").strip() for v in r.values())]
    target = params["target"]
    ignored = {c.strip() for c in params["ignore_columns"].split(",") if c.strip()} | {target}
    features = [c for c in rows[0] if c not in ignored]
    x = [[float(r[c]) for c in features] for r in rows]
    y = [int(float(r[target])) for r in rows]
    cut = len(x) - int(len(x) * params["validation_fraction"])
    means = [sum(col) / cut for col in zip(*x[:cut])]
    stds = [math.sqrt(sum((v - m) ** 2 for v in col) / cut) or 1.0 for col, m in zip(zip(*x[:cut]), means)]
    z = [[(v - m) / s for v, m, s in zip(row, means, stds)] for row in x]
    train_x, train_y, valid_x, valid_y = z[:cut], y[:cut], z[cut:], y[cut:]
    w = [0.0] * len(features)
    b = 0.0
    epochs = params["epochs"]
    print(f"training on {len(train_x)} rows, validating on {len(valid_x)}; features: {', '.join(features)}")
    for epoch in range(1, epochs + 1):
        grad_w = [0.0] * len(w)
        grad_b = 0.0
        loss = 0.0
        for row, label in zip(train_x, train_y):
            p = sigmoid(b + sum(wi * xi for wi, xi in zip(w, row)))
            loss -= math.log(max(1e-12, p if label else 1 - p))
            for i, xi in enumerate(row):
                grad_w[i] += (p - label) * xi
            grad_b += p - label
        n = len(train_x)
        w = [wi - params["lr"] * (g / n + params["l2"] * wi) for wi, g in zip(w, grad_w)]
        b -= params["lr"] * grad_b / n
        if epoch % max(1, epochs // 10) == 0 or epoch == epochs:
            print(f"epoch {epoch:5d}  log-loss {loss / n:.4f}")
            gw.report(progress=epoch / epochs, log_loss=round(loss / n, 4))

    def scores(data):
        return [sigmoid(b + sum(wi * xi for wi, xi in zip(w, row))) for row in data]

    check_x, check_y = (valid_x, valid_y) if valid_x else (train_x, train_y)
    predicted = scores(check_x)
    accuracy = sum((p >= 0.5) == bool(t) for p, t in zip(predicted, check_y)) / len(check_y)
    model = {"features": features, "means": means, "stds": stds, "weights": w, "bias": b, "threshold": 0.5}
    (outputs["model"] / "model.json").write_text(json.dumps(model, indent=1))
    return {"accuracy": round(accuracy, 4), "auc": round(auc(check_y, predicted), 4),
            "log_loss": round(loss / len(train_x), 4), "rows": len(rows)}
