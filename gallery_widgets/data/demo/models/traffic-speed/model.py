"""Road speed from traffic volume with the BPR (Bureau of Public Roads) volume-delay function."""

import json
from pathlib import Path


class TrafficSpeed:
    def __init__(self, parameters):
        self.p = parameters

    def predict(self, rows):
        """Speed (km/h) for each row: volume (vehicles/hour), and optionally capacity and free_flow_kmh."""
        if isinstance(rows, dict):
            rows = [rows]
        result = []
        for row in rows:
            capacity = float(row.get("capacity", self.p["default_capacity_vph"]))
            free_flow = float(row.get("free_flow_kmh", self.p["default_free_flow_kmh"]))
            ratio = float(row["volume"]) / capacity
            result.append(round(free_flow / (1 + self.p["alpha"] * ratio ** self.p["beta"]), 1))
        return result


def load(folder):
    return TrafficSpeed(json.loads((Path(folder) / "parameters.json").read_text()))
