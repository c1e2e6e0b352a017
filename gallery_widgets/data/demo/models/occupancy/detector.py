"""Room occupancy from CO2 readings: above a level, or rising fast."""

import json
from pathlib import Path


class OccupancyDetector:
    def __init__(self, thresholds):
        self.thresholds = thresholds

    def predict(self, readings):
        """True (occupied) or False for each reading: a dict with co2 and optionally co2_previous."""
        if isinstance(readings, dict):
            readings = [readings]
        t = self.thresholds
        result = []
        for r in readings:
            co2 = float(r["co2"])
            rise = co2 - float(r.get("co2_previous", co2))
            votes = (co2 >= t["co2_ppm"]) + (rise >= t["co2_rise_ppm"])
            result.append(votes >= t["min_votes"])
        return result


def load(folder):
    return OccupancyDetector(json.loads((Path(folder) / "thresholds.json").read_text()))
