"""k-means with k-means++ seeding, standard library only."""

import csv
import json
import random
from pathlib import Path

import gallery_widgets as gw


def read_table(path):
    path = Path(path)
    if path.is_dir():
        path = sorted(path.glob("*.csv"))[0]
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def is_number(text):
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def distance2(a, b):
    return sum((x - y) ** 2 for x, y in zip(a, b))


def main(params, inputs, outputs):
    rows = read_table(inputs["data"])
    wanted = [c.strip() for c in params["columns"].split(",") if c.strip()]
    columns = wanted or [c for c in rows[0] if all(is_number(r[c]) for r in rows)]
    points = [[float(r[c]) for c in columns] for r in rows]
    rng = random.Random(params["seed"])
    centroids = [rng.choice(points)]
    while len(centroids) < params["k"]:
        weights = [min(distance2(p, c) for c in centroids) for p in points]
        centroids.append(rng.choices(points, weights=weights)[0])
    labels = [0] * len(points)
    for iteration in range(1, params["iterations"] + 1):
        new_labels = [min(range(len(centroids)), key=lambda j: distance2(p, centroids[j])) for p in points]
        for j in range(len(centroids)):
            members = [p for p, label in zip(points, new_labels) if label == j]
            if members:
                centroids[j] = [sum(v) / len(members) for v in zip(*members)]
        gw.report(progress=min(1.0, iteration / params["iterations"]))
        if new_labels == labels and iteration > 1:
            break
        labels = new_labels
    inertia = sum(distance2(p, centroids[label]) for p, label in zip(points, labels))
    sizes = [labels.count(j) for j in range(len(centroids))]
    (outputs["model"] / "centroids.json").write_text(json.dumps({"columns": columns, "centroids": centroids}, indent=1))
    with open(outputs["model"] / "assignments.csv", "w", encoding="utf-8") as handle:
        handle.write("row,cluster\n")
        handle.writelines(f"{i},{label}\n" for i, label in enumerate(labels))
    print(f"converged after {iteration} iterations; cluster sizes {sizes}")
    gw.report(progress=1.0)
    return {"inertia": round(inertia, 3), "iterations": iteration, "smallest_cluster": min(sizes)}
