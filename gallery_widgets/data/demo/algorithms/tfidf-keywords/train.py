"""TF-IDF keyword extraction."""

import csv
import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path

import gallery_widgets as gw

WORD = re.compile(r"[a-z']{3,}")
STOP = {"the", "and", "but", "for", "with", "this", "that", "was", "very", "are", "not"}


def read_table(path):
    path = Path(path)
    if path.is_dir():
        path = sorted(path.glob("*.csv"))[0]
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main(params, inputs, outputs):
    rows = read_table(inputs["data"])
    docs = [[w for w in WORD.findall(r[params["text_column"]].lower()) if w not in STOP] for r in rows]
    df = Counter(w for doc in docs for w in set(doc))
    idf = {w: math.log(len(docs) / n) + 1 for w, n in df.items() if n >= params["min_df"]}
    per_doc = []
    groups = defaultdict(Counter)
    for row, doc in zip(rows, docs):
        tf = Counter(w for w in doc if w in idf)
        scores = {w: c / max(1, len(doc)) * idf[w] for w, c in tf.items()}
        per_doc.append(sorted(scores, key=scores.get, reverse=True)[: params["top_k"]])
        if params["group_column"]:
            groups[row[params["group_column"]]].update(scores)
    gw.report(progress=0.8)
    by_group = {g: [w for w, _ in c.most_common(params["top_k"])] for g, c in groups.items()}
    (outputs["keywords"] / "keywords.json").write_text(json.dumps({"documents": per_doc, "groups": by_group}, indent=1))
    for group, words in by_group.items():
        print(f"{group}: {', '.join(words)}")
    gw.report(progress=1.0)
    return {"documents": len(docs), "vocabulary": len(idf), "groups": len(by_group)}
