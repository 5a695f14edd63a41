"""Charts as inline SVG, drawn on the server: nothing to download, nothing to build, readable without
script, and the figures are in the markup (``data-figure``) for anyone (or any test) to read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

BAR_AREA = 420
LABEL_WIDTH = 130
ROW = 34


def _width(value: int, largest: int) -> float:
    if largest <= 0 or value <= 0:
        return 0.0
    return max(BAR_AREA * value / largest, 2.0)


def funnel(total: Mapping[str, int], steps: Sequence[tuple[str, str]]) -> Markup:
    """One bar per step of the funnel, with the share of the previous step."""
    largest = max((total.get(key, 0) for key, _ in steps), default=0)
    height = ROW * len(steps) + 6
    parts = [f'<svg class="chart funnel" viewBox="0 0 {LABEL_WIDTH + BAR_AREA + 130} {height}" role="img" '
             f'aria-label="Case funnel">']
    previous = None
    for index, (key, label) in enumerate(steps):
        value = int(total.get(key, 0))
        y = index * ROW + 4
        width = _width(value, largest)
        share = f" ({round(100 * value / previous)}%)" if previous else ""
        parts.append(
            f'<g class="step step-{index}"><text x="0" y="{y + 19}" class="label">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{ROW - 8}" rx="3"></rect>'
            f'<text x="{LABEL_WIDTH + width + 8:.1f}" y="{y + 19}" class="value">'
            f'<tspan data-figure="{escape(key)}">{value}</tspan>{escape(share)}</text></g>'
        )
        previous = value
    parts.append("</svg>")
    return Markup("".join(parts))


def breakdown(rows: Mapping[str, Mapping[str, int]], *, limit: int = 12) -> Markup:
    """Reported cases per key (agency, province, election), with the followed-up and overdue parts."""
    items = list(rows.items())[:limit]
    if not items:
        return Markup('<p class="empty">No cases.</p>')
    largest = max(int(funnel_row.get("reported", 0)) for _, funnel_row in items)
    height = ROW * len(items) + 6
    label_width = 190
    parts = [f'<svg class="chart breakdown" viewBox="0 0 {label_width + BAR_AREA + 150} {height}" role="img">']
    for index, (key, row) in enumerate(items):
        y = index * ROW + 4
        reported, followed, overdue = (int(row.get(k, 0)) for k in ("reported", "followed_up", "overdue"))
        text = escape(key if len(key) <= 26 else key[:25] + "…")
        parts.append(
            f'<g><title>{escape(key)}: {reported} reported, {followed} followed up, {overdue} overdue</title>'
            f'<text x="0" y="{y + 19}" class="label">{text}</text>'
            f'<rect class="reported" x="{label_width}" y="{y}" width="{_width(reported, largest):.1f}" '
            f'height="{ROW - 8}" rx="3"></rect>'
            f'<rect class="followed" x="{label_width}" y="{y}" width="{_width(followed, largest):.1f}" '
            f'height="{ROW - 8}" rx="3"></rect>'
            f'<text x="{label_width + _width(reported, largest) + 8:.1f}" y="{y + 19}" class="value">'
            f'{reported}' + (f' · <tspan class="late">{overdue} overdue</tspan>' if overdue else "") + "</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
