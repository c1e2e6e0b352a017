"""Lexicon-based sentiment: the sum of word scores, with simple negation handling."""

import json
import re
from pathlib import Path

WORD = re.compile(r"[a-z']+")
NEGATIONS = {"not", "no", "never", "don't", "isn't", "wasn't"}


class SentimentModel:
    def __init__(self, lexicon):
        self.lexicon = lexicon

    def score(self, text):
        total, flip = 0, False
        for word in WORD.findall(text.lower()):
            if word in NEGATIONS:
                flip = True
                continue
            value = self.lexicon.get(word, 0)
            total += -value if flip else value
            flip = False if value else flip
        return total

    def predict(self, texts):
        """'positive', 'negative' or 'neutral' for each text."""
        if isinstance(texts, str):
            texts = [texts]
        labels = []
        for text in texts:
            s = self.score(text)
            labels.append("positive" if s > 0 else "negative" if s < 0 else "neutral")
        return labels


def load(folder):
    return SentimentModel(json.loads((Path(folder) / "lexicon.json").read_text()))
