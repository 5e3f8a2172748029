"""Bar charts as server-rendered SVG: no JavaScript, readable by screen readers.

Written by hand rather than with a charting library: the charts are two kinds of bar chart,
and doing it here keeps the markup accessible (role="img", a title and a description, the
numbers also given as a table beside each chart), free of scripts (the console's Content
Security Policy allows none inline) and in GOV.UK colours that meet 3:1 contrast on white.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

OUTCOME_COLOURS = {"permit": "#00703c", "partial": "#1d70b8", "deny": "#d4351c"}
OVERRIDE_COLOUR = "#4c2c92"
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 40


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: Sequence[int]


def _ticks(top: int) -> list[int]:
    if top <= 5:
        return list(range(0, top + 1))
    step = max(1, round(top / 4))
    return list(range(0, top + 1, step))


def bar_chart(
    *, chart_id: str, title: str, description: str, labels: Sequence[str], series: list[Series]
) -> Markup:
    """Stacked bars, one per label, with a legend; the numbers go in a table as well."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = max([*totals, 1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    bar_w = max(2.0, slot * 0.7)
    parts = [
        f'<svg class="hub-chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    for tick in _ticks(top):
        y = TOP + plot_h - plot_h * tick / top
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#b1b4b6" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#0b0c0c">{tick}</text>'
        )
    every = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - bar_w) / 2
        base: float = TOP + plot_h
        for s in series:
            value = s.values[i]
            if not value:
                continue
            h = plot_h * value / top
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{s.colour}"><title>{escape(label)}: {escape(s.name)} {value}</title></rect>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="12" fill="#0b0c0c">{escape(label)}</text>'
            )
    legend_x = LEFT
    for s in series:
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 14}" width="12" height="12" fill="{s.colour}"/>'
            f'<text x="{legend_x + 16}" y="{HEIGHT - 4}" font-size="12" fill="#0b0c0c">'
            f"{escape(s.name)}</text>"
        )
        legend_x += 24 + 8 * len(s.name)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


@dataclass(frozen=True)
class AgencyChart:
    agency: str
    svg: Markup
    labels: list[str]
    series: list[Series]


def decisions_by_agency(
    rows: Sequence[tuple[date, str, str, int]], days: Sequence[date]
) -> list[AgencyChart]:
    """One chart per agency: decisions per day, stacked by outcome."""
    charts = []
    labels = [d.strftime("%d %b") for d in days]
    for n, agency in enumerate(sorted({row[1] for row in rows})):
        series = []
        for outcome, colour in OUTCOME_COLOURS.items():
            per_day = {d: 0 for d in days}
            for day, who, what, count in rows:
                if who == agency and what == outcome and day in per_day:
                    per_day[day] += count
            series.append(Series(outcome, colour, [per_day[d] for d in days]))
        svg = bar_chart(
            chart_id=f"decisions-{n}",
            title=f"Decisions per day for {agency}",
            description=(
                f"{sum(sum(s.values) for s in series)} decisions over {len(days)} days, "
                "stacked by outcome: permit, partial and deny."
            ),
            labels=labels,
            series=series,
        )
        charts.append(AgencyChart(agency=agency, svg=svg, labels=labels, series=series))
    return charts


def overrides_chart(weeks: Sequence[tuple[date, int]]) -> AgencyChart:
    labels = [monday.strftime("%d %b") for monday, _ in weeks]
    series = [Series("shared without consent", OVERRIDE_COLOUR, [n for _, n in weeks])]
    svg = bar_chart(
        chart_id="overrides",
        title="Decisions shared without consent, per week",
        description=(
            f"{sum(n for _, n in weeks)} over the last {len(weeks)} weeks; "
            "each bar is the week starting on the Monday shown."
        ),
        labels=labels,
        series=series,
    )
    return AgencyChart(agency="", svg=svg, labels=labels, series=series)
