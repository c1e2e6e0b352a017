"""A linear house-price model: price = intercept + sum(coefficient * feature)."""

import json
from pathlib import Path


class HousePriceModel:
    def __init__(self, intercept, coefficients):
        self.intercept = intercept
        self.coefficients = coefficients

    @property
    def features(self):
        return list(self.coefficients)

    def predict(self, rows):
        """Prices for a list of dicts with area_m2, rooms, age_years and distance_km."""
        if isinstance(rows, dict):
            rows = [rows]
        prices = []
        for row in rows:
            missing = [f for f in self.coefficients if f not in row]
            if missing:
                raise KeyError(f"missing feature(s) {missing}; the model needs {self.features}")
            prices.append(round(self.intercept + sum(c * float(row[f]) for f, c in self.coefficients.items()), 2))
        return prices

    def __repr__(self):
        return f"HousePriceModel({', '.join(self.features)})"


def load(folder):
    data = json.loads((Path(folder) / "coefficients.json").read_text())
    return HousePriceModel(data["intercept"], data["coefficients"])
