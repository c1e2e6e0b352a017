"""Crop health classes from the NDVI of red and near-infrared reflectance."""

import json
from pathlib import Path


class CropHealth:
    def __init__(self, classes):
        self.classes = classes

    @staticmethod
    def ndvi(red, nir):
        return (nir - red) / (nir + red) if nir + red else 0.0

    def predict(self, pixels):
        """A class for each pixel: a dict with red and nir reflectance (0-1), or a (red, nir) pair."""
        if isinstance(pixels, dict):
            pixels = [pixels]
        result = []
        for p in pixels:
            red, nir = (p["red"], p["nir"]) if isinstance(p, dict) else p
            value = self.ndvi(float(red), float(nir))
            result.append(next(c["label"] for c in self.classes if value < c["below"]))
        return result


def load(folder):
    return CropHealth(json.loads((Path(folder) / "classes.json").read_text()))
