"""Tiny server-side SVG charts (pure): line for trends, horizontal bars for breakdowns.

The output is a complete ``<svg>`` element with ``role="img"``, a ``<title>`` and a
description, so screen readers announce it; pages also print the numbers as a table.
Every text that reaches the SVG is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["bar_chart", "line_chart"]

_INK = "#1f2933"
_GRID = "#cbd2d9"
_LINE = "#0b5cad"
_BAR = "#0b5cad"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def line_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    y_max: float | None = None,
    unit: str = "",
    width: int = 640,
    height: int = 220,
) -> str:
    """A line through ``(label, value)`` points, left to right, with a labelled y axis."""
    label = escape(title)
    if not points:
        return _empty(label, width, height)
    top = y_max if y_max is not None else max(v for _, v in points) or 1.0
    left, right, upper, lower = 48, 12, 12, 28
    plot_w, plot_h = width - left - right, height - upper - lower
    step = plot_w / max(len(points) - 1, 1)

    def y_of(value: float) -> float:
        return upper + plot_h - (min(max(value, 0.0), top) / top) * plot_h

    coords = [(left + i * step, y_of(v)) for i, (_, v) in enumerate(points)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts = [_open(label, width, height, _describe(points, unit))]
    for frac in (0.0, 0.5, 1.0):
        gy = upper + plot_h - frac * plot_h
        parts.append(
            f'<line x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{_INK}">{_fmt(top * frac)}{escape(unit)}</text>'
        )
    parts.append(f'<polyline points="{path}" fill="none" stroke="{_LINE}" stroke-width="2.5"/>')
    for (x, y), (name, value) in zip(coords, points, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{_LINE}">'
            f"<title>{escape(name)}: {_fmt(value)}{escape(unit)}</title></circle>"
        )
    for index in sorted({0, len(points) - 1}):
        x, _ = coords[index]
        anchor = "start" if index == 0 else "end"
        parts.append(
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="{anchor}" font-size="11" '
            f'fill="{_INK}">{escape(points[index][0])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    width: int = 640,
    bar_height: int = 22,
) -> str:
    """One horizontal bar per ``(label, value)``, largest scale = largest value."""
    label = escape(title)
    if not items:
        return _empty(label, width, 60)
    gap, left, right = 8, 160, 64
    height = len(items) * (bar_height + gap) + gap
    top = max(v for _, v in items) or 1.0
    parts = [_open(label, width, height, _describe(items, unit))]
    for i, (name, value) in enumerate(items):
        y = gap + i * (bar_height + gap)
        length = (max(value, 0.0) / top) * (width - left - right)
        parts.append(
            f'<text x="{left - 8}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" '
            f'font-size="12" fill="{_INK}">{escape(name)}</text>'
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            f'fill="{_BAR}"/>'
            f'<text x="{left + length + 6:.1f}" y="{y + bar_height * 0.7:.1f}" '
            f'font-size="12" fill="{_INK}">{_fmt(value)}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _describe(points: Sequence[tuple[str, float]], unit: str) -> str:
    shown = ", ".join(f"{name}: {_fmt(value)}{unit}" for name, value in points[:12])
    more = f" and {len(points) - 12} more" if len(points) > 12 else ""
    return escape(shown + more)


def _open(label: str, width: int, height: int, desc: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" aria-label="{label}">'
        f"<title>{label}</title><desc>{desc}</desc>"
    )


def _empty(label: str, width: int, height: int) -> str:
    return (
        _open(label, width, height, "no data")
        + f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
        f'font-size="13" fill="{_INK}">No data yet</text></svg>'
    )
