"""Server-rendered SVG charts (no JavaScript, no CDN): grouped bars and lines with axis labels,
money on the axis through settlement_ops.money.format_amount, the same path as the `money`
filter. A `Chart` carries its numbers too, so each chart's table is one click away on the page.
Overview charts come from each area app's `overview.py` (`charts(market, *, today)`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .money import MINOR_UNITS, format_amount

COLOURS = ["#1f5f99", "#d9822b", "#1e7b46", "#b42318", "#7a4fa3"]
WIDTH, HEIGHT = 680, 260
LEFT, RIGHT, TOP, BOTTOM = 90, 16, 16, 56


@dataclass
class Series:
    name: str
    values: list[Decimal | int | None]


@dataclass
class Column:
    title: str
    money: bool = True


@dataclass
class Chart:
    """One chart of a dashboard: its SVG, and its numbers as a table (rows of (label, values))
    with a link to the filtered list they come from."""

    key: str
    title: str
    svg: SafeString
    currency: str
    columns: list[Column]
    rows: list[tuple[str, list]]
    link: str = ""
    link_label: str = ""
    link_permission: str = ""
    note: str = ""
    cells: list = field(init=False)

    def __post_init__(self):
        # Rows zipped with their columns, so the template formats each money cell with the filter.
        self.cells = [(label, list(zip(values, self.columns, strict=True))) for label, values in self.rows]


def axis_label(value: Decimal, unit: str) -> str:
    if unit in MINOR_UNITS:
        return format_amount(value, unit)
    return f"{value:,.0f}"


def _scale(values: list[Decimal]) -> tuple[Decimal, Decimal]:
    present = [Decimal(v) for v in values if v is not None]
    low = min([Decimal(0), *present])
    high = max([Decimal(0), *present])
    if high == low:
        high = low + 1
    return low, high


def _frame(*, title: str, categories: list[str], low: Decimal, high: Decimal, unit: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    for i in range(5):
        value = low + (high - low) * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{escape(axis_label(value, unit))}</text>'
        )
    step = max(1, len(categories) // 10)
    slot = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
    for i, category in enumerate(categories):
        if i % step == 0:
            x = LEFT + slot * (i + 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11">{escape(category)}</text>'
            )
    return parts


def _legend(series: list[Series], unit: str) -> list[str]:
    parts = []
    for i, s in enumerate(series):
        x = LEFT + i * 170
        parts.append(f'<rect x="{x}" y="{HEIGHT - 20}" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>')
        parts.append(f'<text x="{x + 14}" y="{HEIGHT - 11}" font-size="11">{escape(s.name)} ({escape(unit)})</text>')
    return parts


def bar_chart(*, title: str, categories: list[str], series: list[Series], unit: str) -> SafeString:
    """Grouped bars: one group per category, one bar per series; negative values go below zero."""
    low, high = _scale([v for s in series for v in s.values])
    plot_h = HEIGHT - TOP - BOTTOM
    parts = _frame(title=title, categories=categories, low=low, high=high, unit=unit)
    slot = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
    # Bars at most 36 px wide, each group centred in its slot (one day should not fill the chart).
    bar = min(max(slot * 0.8 / max(len(series), 1), 1), 36)
    offset = (slot - bar * len(series)) / 2

    def y_of(value) -> float:
        return TOP + plot_h - float((Decimal(value) - low) / (high - low)) * plot_h

    zero = y_of(0)
    for si, s in enumerate(series):
        for ci, value in enumerate(s.values):
            if value is None:
                continue
            y = y_of(value)
            x = LEFT + slot * ci + offset + bar * si
            parts.append(
                f'<rect x="{x:.1f}" y="{min(y, zero):.1f}" width="{bar:.1f}" height="{abs(zero - y):.1f}" '
                f'fill="{COLOURS[si % len(COLOURS)]}"><title>{escape(categories[ci])} {escape(s.name)}: '
                f"{escape(axis_label(Decimal(value), unit))}</title></rect>"
            )
    parts += _legend(series, unit)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it is escaped above


def line_chart(*, title: str, categories: list[str], series: list[Series], unit: str) -> SafeString:
    """Lines with a dot per point; a missing value (None) breaks the line."""
    low, high = _scale([v for s in series for v in s.values])
    plot_h = HEIGHT - TOP - BOTTOM
    parts = _frame(title=title, categories=categories, low=low, high=high, unit=unit)
    slot = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
    for si, s in enumerate(series):
        colour = COLOURS[si % len(COLOURS)]
        points = []
        for ci, value in enumerate(s.values):
            if value is None:
                continue
            x = LEFT + slot * (ci + 0.5)
            y = TOP + plot_h - float((Decimal(value) - low) / (high - low)) * plot_h
            points.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(categories[ci])} '
                f"{escape(s.name)}: {escape(axis_label(Decimal(value), unit))}</title></circle>"
            )
        if len(points) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(points)}"/>')
    parts += _legend(series, unit)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it is escaped above
