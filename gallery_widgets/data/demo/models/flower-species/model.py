"""A decision tree (trained with the CART decision tree algorithm) for three flower species."""

import json
from pathlib import Path


class TreeModel:
    def __init__(self, tree):
        self.tree = tree

    def predict(self, rows):
        """The species of each row (a dict with petal_length and petal_width, in cm)."""
        if isinstance(rows, dict):
            rows = [rows]
        result = []
        for row in rows:
            node = self.tree
            while "leaf" not in node:
                node = node["left"] if float(row[node["feature"]]) <= node["threshold"] else node["right"]
            result.append(node["leaf"])
        return result


def load(folder):
    return TreeModel(json.loads((Path(folder) / "tree.json").read_text()))
