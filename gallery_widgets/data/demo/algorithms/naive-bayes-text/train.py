"""Multinomial naive Bayes text classifier."""

import csv
import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path

import gallery_widgets as gw

WORD = re.compile(r"[a-z']+")


def read_table(path):
    path = Path(path)
    if path.is_dir():
        path = sorted(path.glob("*.csv"))[0]
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def tokens(text):
    return WORD.findall(text.lower())


def fit(docs, alpha):
    priors = Counter(label for _, label in docs)
    counts = defaultdict(Counter)
    for text, label in docs:
        counts[label].update(tokens(text))
    vocabulary = sorted({w for c in counts.values() for w in c})
    model = {"priors": {}, "likelihoods": {}, "unknown": {}}
    for label, count in priors.items():
        total = sum(counts[label].values()) + alpha * len(vocabulary)
        model["priors"][label] = math.log(count / len(docs))
        model["likelihoods"][label] = {w: math.log((counts[label][w] + alpha) / total) for w in vocabulary}
        model["unknown"][label] = math.log(alpha / total)
    return model


def predict(model, text):
    def score(label):
        table = model["likelihoods"][label]
        return model["priors"][label] + sum(table.get(w, model["unknown"][label]) for w in tokens(text))

    return max(model["priors"], key=score)


def main(params, inputs, outputs):
    rows = read_table(inputs["data"])
    docs = [(r[params["text_column"]], r[params["label_column"]]) for r in rows]
    cut = len(docs) - int(len(docs) * params["validation_fraction"])
    model = fit(docs[:cut], params["alpha"])
    gw.report(progress=0.6)
    check = docs[cut:] or docs[:cut]
    accuracy = sum(predict(model, text) == label for text, label in check) / len(check)
    (outputs["model"] / "model.json").write_text(json.dumps(model))
    print(f"{len(model['priors'])} classes, {len(next(iter(model['likelihoods'].values())))} words; "
          f"validation accuracy {accuracy:.3f}")
    gw.report(progress=1.0)
    return {"accuracy": round(accuracy, 4), "classes": len(model["priors"]), "documents": len(docs)}
