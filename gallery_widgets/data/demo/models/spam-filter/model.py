"""A linear spam filter over word presence (weights learnt offline)."""

import json
import math
import re
from pathlib import Path

WORD = re.compile(r"[a-z]+")


class SpamFilter:
    def __init__(self, bias, words):
        self.bias = bias
        self.words = words

    def probability(self, text):
        z = self.bias + sum(self.words.get(w, 0.0) for w in set(WORD.findall(text.lower())))
        return 1 / (1 + math.exp(-z))

    def predict(self, texts):
        """'spam' or 'ham' for each message."""
        if isinstance(texts, str):
            texts = [texts]
        return ["spam" if self.probability(t) >= 0.5 else "ham" for t in texts]


def load(folder):
    data = json.loads((Path(folder) / "weights.json").read_text())
    return SpamFilter(data["bias"], data["words"])
