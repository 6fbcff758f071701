"""How values read on a page: SLA time left and its colour, durations, times. Pure."""

from __future__ import annotations

from datetime import datetime


def parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration(seconds: float | None) -> str:
    """``1d 2h``, ``3h 05m``, ``4m 09s``, ``12s``; ``–`` for none; a minus sign when overdue."""
    if seconds is None:
        return "–"
    sign, s = ("−" if seconds < 0 else ""), int(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"


def sla_clock(seconds: float) -> str:
    """A running clock: ``1d 03:12:05``, ``03:12:05``, ``−00:04:10`` when overdue (the page's
    script counts it down with the same format)."""
    sign, s = ("−" if seconds < 0 else ""), int(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{sign}{days}d {clock}" if days else f"{sign}{clock}"


def sla_state(left_s: float, total_s: float | None) -> str:
    """``breached`` (past the deadline), ``critical`` (under a fifth left, or 5 minutes),
    ``warning`` (under half), else ``ok``: the class that colours the clock."""
    if left_s <= 0:
        return "breached"
    total = total_s or 0
    if left_s < 300 or (total and left_s < total / 5):
        return "critical"
    if total and left_s < total / 2:
        return "warning"
    return "ok"


def clock_time(stamp: str | None) -> str:
    when = parse(stamp)
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "–"


def label(key: str) -> str:
    """``first_response_time`` → ``First response time``; ``_s`` suffixes read as seconds."""
    text = key.removesuffix("_s").replace("_", " ")
    return text[:1].upper() + text[1:]


def kpi_sections(report: dict) -> list[dict]:
    """The KPI report as sections a page can draw, whatever fields it has: a mapping of numbers
    (per channel, per reason, …) becomes a chart and a table; scalars become figures (durations
    in seconds shown as durations, shares as percentages); nested mappings recurse with the
    path in their title. Medians, p90, CSAT or anything the router adds show up as they come."""
    sections: list[dict] = []
    figures: list[tuple[str, str]] = []
    _walk(report, (), sections, figures)
    if figures:
        sections.insert(0, {"title": "Figures", "figures": figures, "series": None})
    return sections


def _walk(value, path: tuple[str, ...], sections: list[dict], figures: list) -> None:
    if isinstance(value, dict):
        numbers = {
            k: v for k, v in value.items() if isinstance(v, int | float) and not isinstance(v, bool)
        }
        measures = any(str(k).endswith("_s") for k in numbers)  # durations read as figures
        if (
            len(numbers) >= 3
            and not measures
            and len(numbers) == len([v for v in value.values() if v is not None])
        ):
            sections.append(
                {
                    "title": " · ".join(label(p) for p in path),
                    "figures": None,
                    "series": [(str(k), float(v)) for k, v in numbers.items()],
                    "share": path[-1:] in (("per_channel",), ("per_reason",)) or "share" in path,
                }
            )
            return
        for k, v in value.items():
            _walk(v, (*path, str(k)), sections, figures)
        return
    if isinstance(value, list):
        return
    figures.append((" · ".join(label(p) for p in path), _figure(path, value)))


def _figure(path: tuple[str, ...], value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    joined = " ".join(path)
    if any(p.endswith("_s") for p in path):
        return duration(value)
    if (
        isinstance(value, float)
        and 0 <= value <= 1
        and any(w in joined for w in ("share", "attainment", "rate"))
    ):
        return f"{100 * value:.1f} %"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
