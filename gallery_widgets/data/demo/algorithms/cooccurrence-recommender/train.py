"""Item-to-item co-occurrence recommender ranked by lift."""

import csv
import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path

import gallery_widgets as gw


def read_table(path):
    path = Path(path)
    if path.is_dir():
        path = sorted(path.glob("*.csv"))[0]
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main(params, inputs, outputs):
    baskets = defaultdict(set)
    for row in read_table(inputs["baskets"]):
        baskets[row[params["basket_column"]]].add(row[params["item_column"]])
    n = len(baskets)
    items = Counter(item for basket in baskets.values() for item in basket)
    pairs = Counter(pair for basket in baskets.values() for pair in itertools.permutations(sorted(basket), 2))
    gw.report(progress=0.5)
    recommendations = defaultdict(list)
    for (a, b), together in pairs.items():
        if together >= params["min_support"]:
            lift = together * n / (items[a] * items[b])
            recommendations[a].append((round(lift, 3), together, b))
    model = {a: [{"item": b, "lift": lift, "baskets": together}
                 for lift, together, b in sorted(recs, reverse=True)[: params["top_n"]]]
             for a, recs in sorted(recommendations.items())}
    (outputs["model"] / "recommendations.json").write_text(json.dumps(model, indent=1))
    for item, recs in list(model.items())[:5]:
        print(f"{item} -> {', '.join(r['item'] for r in recs)}")
    gw.report(progress=1.0)
    return {"baskets": n, "items": len(items), "items_with_recommendations": len(model)}
