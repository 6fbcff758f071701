"""The row format of ``bench/results.json``."""

from __future__ import annotations


def row(name: str, value: float, unit: str, baseline_name: str, baseline_value: float) -> dict:
    """One figure beside the baseline measured in the same run; ``ratio`` = value / baseline, or
    ``None`` (JSON null) when the baseline is 0 (e.g. no failures on either side)."""
    ratio = round(value / baseline_value, 4) if baseline_value else None
    return {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "baseline_name": baseline_name,
        "baseline_value": round(baseline_value, 4),
        "ratio": ratio,
    }
