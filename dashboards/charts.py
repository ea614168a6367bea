"""Small server-rendered SVG line charts: axes, ticks, units, gaps where data is missing, and an accessible title.

    line_chart([("p50", points), ("p95", points)], title="Latency", unit="seconds")

`points` are [unix seconds, value or None] pairs as the snapshots store them. The result is safe HTML (an <svg>
element); colours come from CSS classes (`chart__line--0`, `--1`...) so the site's stylesheet decides them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Point = Sequence[float | None]
UNITS = ("req/s", "percent", "seconds")
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 56, 12, 12, 26


def format_value(value: float | None, unit: str) -> str:
    """A value as a person reads it: 12.3 req/s, 4.5 %, 230 ms."""
    if value is None or not math.isfinite(value):
        return "–"
    if unit == "percent":
        return f"{_short(value * 100)} %"
    if unit == "seconds":
        return f"{_short(value * 1000)} ms" if value < 1 else f"{_short(value)} s"
    return f"{_short(value)} {unit}".rstrip()


def _short(number: float) -> str:
    if number == 0:
        return "0"
    if abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:.3g}"


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (the top of the y axis)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def line_chart(
    series: Sequence[tuple[str, Sequence[Point]]],
    *,
    title: str,
    unit: str,
    width: int = 560,
    height: int = 200,
    ticks: int = 4,
    start: float | None = None,
    end: float | None = None,
) -> SafeString:
    """An SVG chart of one or more series sharing a time axis (from `start` to `end` in unix seconds, by default the
    span of the data) and a y axis starting at 0. Times are shown in UTC."""
    values = [p[1] for _, points in series for p in points if p[1] is not None and math.isfinite(p[1])]
    times = [p[0] for _, points in series for p in points if p[0] is not None]
    plot_w = width - _MARGIN_LEFT - _MARGIN_RIGHT
    plot_h = height - _MARGIN_TOP - _MARGIN_BOTTOM
    names = ", ".join(name for name, _ in series)
    latest = "; ".join(f"{name} now {format_value(_last(points), unit)}" for name, points in series)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}: {escape(latest) if values else 'no data'}</title>",
        f"<desc>Line chart of {escape(names)} over time (UTC).</desc>",
    ]
    t0 = start if start is not None else min(times, default=0)
    t1 = end if end is not None else max(times, default=0)
    if not values or t1 <= t0:
        parts.append(
            f'<text class="chart__empty" x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">'
            "No data in this window</text></svg>"
        )
        return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
    top = nice_ceiling(max(values))

    def x(ts: float) -> float:
        return _MARGIN_LEFT + (ts - t0) / (t1 - t0) * plot_w

    def y(value: float) -> float:
        return _MARGIN_TOP + plot_h - value / top * plot_h

    parts.append('<g class="chart__grid">')
    for index in range(ticks + 1):
        value = top * index / ticks
        py = y(value)
        parts.append(
            f'<line x1="{_MARGIN_LEFT}" x2="{width - _MARGIN_RIGHT}" y1="{py:.1f}" y2="{py:.1f}"/>'
            f'<text class="chart__tick" x="{_MARGIN_LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">'
            f"{escape(format_value(value, unit))}</text>"
        )
    for index in range(5):
        ts = t0 + (t1 - t0) * index / 4
        label = datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M")
        anchor = "start" if index == 0 else "end" if index == 4 else "middle"
        parts.append(
            f'<text class="chart__tick" x="{x(ts):.1f}" y="{height - 8}" text-anchor="{anchor}">{label}</text>'
        )
    parts.append(
        f'</g><line class="chart__axis" x1="{_MARGIN_LEFT}" x2="{width - _MARGIN_RIGHT}" '
        f'y1="{y(0):.1f}" y2="{y(0):.1f}"/>'
    )
    for index, (name, points) in enumerate(series):
        path = _path(points, x, y)
        if path:
            parts.append(
                f'<path class="chart__line chart__line--{index}" d="{path}"><title>{escape(name)}</title></path>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def _last(points: Sequence[Point]) -> float | None:
    for _, value in reversed(points):
        if value is not None and math.isfinite(value):
            return value
    return None


def _path(points: Sequence[Point], x, y) -> str:
    """An SVG path that lifts the pen over missing values, so a gap shows as a gap, not a straight line."""
    commands, pen_down = [], False
    for ts, value in points:
        if value is None or not math.isfinite(value):
            pen_down = False
            continue
        commands.append(f"{'L' if pen_down else 'M'}{x(ts):.1f},{y(value):.1f}")
        pen_down = True
    return "".join(commands)
