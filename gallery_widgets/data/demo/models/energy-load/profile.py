"""Typical hourly electricity load of an office building, by weekday and weekend."""

import json
from datetime import datetime
from pathlib import Path


class LoadProfile:
    def __init__(self, profile):
        self.profile = profile

    def predict(self, times):
        """The expected load (kW) at each time: datetimes or ISO strings."""
        if isinstance(times, (str, datetime)):
            times = [times]
        result = []
        for t in times:
            moment = datetime.fromisoformat(t) if isinstance(t, str) else t
            day = "weekend" if moment.weekday() >= 5 else "weekday"
            result.append(self.profile[day][moment.hour])
        return result


def load(folder):
    return LoadProfile(json.loads((Path(folder) / "profile.json").read_text()))
