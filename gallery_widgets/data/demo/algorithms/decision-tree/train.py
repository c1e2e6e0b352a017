"""A small CART decision tree (Gini impurity, numeric features)."""

import csv
import json
from collections import Counter
from pathlib import Path

import gallery_widgets as gw


def read_table(path):
    path = Path(path)
    if path.is_dir():
        path = sorted(path.glob("*.csv"))[0]
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def gini(labels):
    n = len(labels)
    return 1.0 - sum((c / n) ** 2 for c in Counter(labels).values()) if n else 0.0


def grow(x, y, features, depth, params):
    majority = Counter(y).most_common(1)[0][0]
    if depth >= params["max_depth"] or len(set(y)) == 1:
        return {"leaf": majority, "samples": len(y)}
    best = None
    for f in range(len(features)):
        for threshold in sorted({row[f] for row in x}):
            left = [label for row, label in zip(x, y) if row[f] <= threshold]
            right = [label for row, label in zip(x, y) if row[f] > threshold]
            if min(len(left), len(right)) < params["min_samples_leaf"]:
                continue
            score = (len(left) * gini(left) + len(right) * gini(right)) / len(y)
            if best is None or score < best[0]:
                best = (score, f, threshold)
    if best is None or best[0] >= gini(y):
        return {"leaf": majority, "samples": len(y)}
    _, f, threshold = best
    left = [(row, label) for row, label in zip(x, y) if row[f] <= threshold]
    right = [(row, label) for row, label in zip(x, y) if row[f] > threshold]
    return {"feature": features[f], "index": f, "threshold": threshold,
            "left": grow([r for r, _ in left], [label for _, label in left], features, depth + 1, params),
            "right": grow([r for r, _ in right], [label for _, label in right], features, depth + 1, params)}


def classify(node, row):
    while "leaf" not in node:
        node = node["left"] if row[node["index"]] <= node["threshold"] else node["right"]
    return node["leaf"]


def describe(node, indent=""):
    if "leaf" in node:
        return [f"{indent}-> {node['leaf']} ({node['samples']} samples)"]
    return ([f"{indent}if {node['feature']} <= {node['threshold']}:"] + describe(node["left"], indent + "    ")
            + [f"{indent}else:"] + describe(node["right"], indent + "    "))


def main(params, inputs, outputs):
    rows = read_table(inputs["data"])
    target = params["target"]
    features = [c for c in rows[0] if c != target]
    x = [[float(r[c]) for c in features] for r in rows]
    y = [r[target] for r in rows]
    tree = grow(x, y, features, 0, params)
    gw.report(progress=0.9)
    accuracy = sum(classify(tree, row) == label for row, label in zip(x, y)) / len(y)
    text = "\n".join(describe(tree))
    (outputs["model"] / "tree.json").write_text(json.dumps(tree, indent=1))
    (outputs["model"] / "tree.txt").write_text(text + "\n")
    print(text)
    leaves = text.count("->")
    gw.report(progress=1.0)
    return {"train_accuracy": round(accuracy, 4), "leaves": leaves, "rows": len(y)}
