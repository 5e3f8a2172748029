"""The SVG charts: accessible markup, escaped labels, bars in proportion."""

from __future__ import annotations

import re
from datetime import date, timedelta
from xml.etree import ElementTree

from hub.console.charts import Series, bar_chart, decisions_by_agency, overrides_chart


def test_chart_is_an_accessible_image_with_escaped_text() -> None:
    svg = bar_chart(
        chart_id="c",
        title="A <title>",
        description="desc & more",
        labels=["<b>", "two"],
        series=[Series("permit", "#00703c", [2, 4])],
    )
    root = ElementTree.fromstring(str(svg))  # noqa: S314 - our own output; well-formed = escaped
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c-title c-desc"
    heights = [float(r.get("height", 0)) for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert heights[1] == 2 * heights[0]


def test_decisions_are_split_by_agency_and_stacked_by_outcome() -> None:
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(3)]
    rows = [
        (days[0], "COUNCIL", "permit", 2),
        (days[0], "COUNCIL", "deny", 1),
        (days[2], "SCHOOL", "partial", 5),
    ]
    charts = decisions_by_agency(rows, days)
    assert [c.agency for c in charts] == ["COUNCIL", "SCHOOL"]
    council = {s.name: list(s.values) for s in charts[0].series}
    assert council == {"permit": [2, 0, 0], "partial": [0, 0, 0], "deny": [1, 0, 0]}


def test_overrides_chart_totals_in_its_description() -> None:
    chart = overrides_chart([(date(2026, 11, 2), 3), (date(2026, 11, 9), 4)])
    assert re.search(r"<desc[^>]*>7 over the last 2 weeks", str(chart.svg))
