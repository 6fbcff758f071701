"""Charts as server-rendered SVG: no script, no library. Each chart is an ``<svg role="img">``
with a ``<title>`` and a ``<desc>`` summarising it; the page puts the same numbers in a table
beside it for screen readers and keyboards. Series colours are CSS classes (``s0``…``s5``, in
console.css) so the palette and its contrast live in one place. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
PAD_L, PAD_R, PAD_T, PAD_B = 44, 12, 12, 36


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2f}"


def _frame(title: str, desc: str, body: list[str], height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'preserveAspectRatio="xMidYMid meet" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{''.join(body)}</svg>"
    )


def _axis(top: float, plot_h: float) -> list[str]:
    """Horizontal grid lines at 0, ½ and the top value, labelled."""
    out = []
    for frac in (0.0, 0.5, 1.0):
        y = PAD_T + plot_h * (1 - frac)
        out.append(
            f'<line class="grid" x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_fmt(top * frac))}</text>"
        )
    return out


def columns(
    title: str, labels: Sequence[str], series: dict[str, Sequence[float]], *, stacked: bool = True
) -> Markup:
    """Stacked (or grouped) columns: one column per label, one colour per series."""
    names = list(series)
    n = max(len(labels), 1)
    sums = [
        sum(series[s][i] for s in names)
        if stacked
        else max((series[s][i] for s in names), default=0)
        for i in range(len(labels))
    ]
    top = max(sums, default=0) or 1
    plot_h, plot_w = HEIGHT - PAD_T - PAD_B, WIDTH - PAD_L - PAD_R
    slot = plot_w / n
    body = _axis(top, plot_h)
    for i, label in enumerate(labels):
        base = 0.0
        for k, name in enumerate(names):
            value = series[name][i]
            h = plot_h * value / top
            w = slot * 0.7 if stacked else slot * 0.7 / len(names)
            x = PAD_L + slot * i + slot * 0.15 + (0 if stacked else w * k)
            y = PAD_T + plot_h - h - (plot_h * base / top if stacked else 0)
            if value:
                body.append(
                    f'<rect class="s{k % 6}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}">'
                    f"<title>{escape(label)} {escape(name)}: {escape(_fmt(value))}</title></rect>"
                )
            if stacked:
                base += value
        if n <= 16 or i % max(1, n // 8) == 0:
            body.append(
                f'<text class="tick" x="{PAD_L + slot * (i + 0.5):.1f}" y="{HEIGHT - PAD_B + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    desc = f"{len(labels)} columns, series {', '.join(names)}; largest {_fmt(max(sums, default=0))}"
    return _frame(title, desc, body)


def lines(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]]) -> Markup:
    """One polyline per series over the labels (``None``: no point)."""
    values = [v for s in series.values() for v in s if v is not None]
    top = max(values, default=0) or 1
    plot_h, plot_w = HEIGHT - PAD_T - PAD_B, WIDTH - PAD_L - PAD_R
    step = plot_w / max(len(labels) - 1, 1)
    body = _axis(top, plot_h)
    for k, (name, points) in enumerate(series.items()):
        coords = [
            f"{PAD_L + step * i:.1f},{PAD_T + plot_h * (1 - v / top):.1f}"
            for i, v in enumerate(points)
            if v is not None
        ]
        if coords:
            body.append(
                f'<polyline class="line s{k % 6}" points="{" ".join(coords)}">'
                f"<title>{escape(name)}</title></polyline>"
            )
    every = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % every == 0:
            body.append(
                f'<text class="tick" x="{PAD_L + step * i:.1f}" y="{HEIGHT - PAD_B + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    desc = (
        f"{len(labels)} points, series {', '.join(series)}; largest {_fmt(max(values, default=0))}"
    )
    return _frame(title, desc, body)


def bars(title: str, rows: Sequence[tuple[str, float]], *, unit: str = "") -> Markup:
    """Horizontal bars, one per (label, value), labelled with the value."""
    height = PAD_T + 24 * max(len(rows), 1) + 8
    top = max((v for _, v in rows), default=0) or 1  # negative values draw no bar
    left, plot_w = 150, WIDTH - 150 - 60
    body = []
    for i, (label, value) in enumerate(rows):
        y = PAD_T + 24 * i
        w = max(plot_w * value / top, 0.0)
        body.append(
            f'<text class="tick" x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(label[:24])}</text>'
            f'<rect class="s{i % 6}" x="{left}" y="{y + 3}" width="{w:.1f}" height="16"/>'
            f'<text class="tick" x="{left + w + 4:.1f}" y="{y + 15}">{escape(_fmt(value))}{escape(unit)}</text>'
        )
    desc = "; ".join(f"{label} {_fmt(v)}{unit}" for label, v in rows[:12])
    return _frame(title, desc, body, height=height)
