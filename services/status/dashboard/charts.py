"""Charts as inline SVG, drawn on the server: nothing to download, nothing to build, readable without
script, and the figures are in the markup (``data-figure``) for anyone (or any test) to read."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from markupsafe import Markup, escape

from shared.i18n import translations


class Shows(Protocol):
    """What a chart needs of the page: its language and number format (``present.Presenter``)."""

    lang: str

    def number(self, value: int) -> str: ...


class _Plain:
    lang = "en"

    def number(self, value: int) -> str:
        return str(value)

BAR_AREA = 420
LABEL_WIDTH = 130
ROW = 34


def _width(value: int, largest: int) -> float:
    if largest <= 0 or value <= 0:
        return 0.0
    return max(BAR_AREA * value / largest, 2.0)


def funnel(total: Mapping[str, int], steps: Sequence[tuple[str, str]], show: Shows | None = None) -> Markup:
    """One bar per step of the funnel, with the share of the previous step."""
    show = show or _Plain()
    _ = translations(show.lang).gettext
    largest = max((total.get(key, 0) for key, _ in steps), default=0)
    height = ROW * len(steps) + 6
    title = escape(_("Case funnel"))
    parts = [f'<svg class="chart funnel" viewBox="0 0 {LABEL_WIDTH + BAR_AREA + 130} {height}" role="img" '
             f'aria-label="{title}">']
    previous = None
    for index, (key, label) in enumerate(steps):
        value = int(total.get(key, 0))
        y = index * ROW + 4
        width = _width(value, largest)
        share = f" ({round(100 * value / previous)}%)" if previous else ""
        parts.append(
            f'<g class="step step-{index}"><text x="0" y="{y + 19}" class="label">{escape(_(label))}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{ROW - 8}" rx="3"></rect>'
            f'<text x="{LABEL_WIDTH + width + 8:.1f}" y="{y + 19}" class="value">'
            f'<tspan data-value="{value}" data-figure="{escape(key)}">{escape(show.number(value))}</tspan>'
            f'{escape(share)}</text></g>'
        )
        previous = value
    parts.append("</svg>")
    return Markup("".join(parts))


def breakdown(rows: Mapping[str, Mapping[str, int]], show: Shows | None = None, *, limit: int = 12,
              label: Callable[[str], str] = str) -> Markup:
    """Reported cases per key (agency, province, election), with the followed-up and overdue parts; ``label``
    names a key for people (an agency's name for its code)."""
    show = show or _Plain()
    words = translations(show.lang)
    items = list(rows.items())[:limit]
    if not items:
        nothing = escape(words.gettext("No cases."))
        return Markup(f'<p class="empty">{nothing}</p>')
    largest = max(int(funnel_row.get("reported", 0)) for _, funnel_row in items)
    height = ROW * len(items) + 6
    label_width = 190
    parts = [f'<svg class="chart breakdown" viewBox="0 0 {label_width + BAR_AREA + 150} {height}" role="img">']
    for index, (key, row) in enumerate(items):
        y = index * ROW + 4
        reported, followed, overdue = (int(row.get(k, 0)) for k in ("reported", "followed_up", "overdue"))
        name = label(key)
        text = escape(name if len(name) <= 26 else name[:25] + "…")
        n = show.number
        summary = words.gettext("%(name)s: %(reported)s reported, %(followed)s followed up, %(overdue)s overdue") % {
            "name": name, "reported": n(reported), "followed": n(followed), "overdue": n(overdue)}
        late = words.ngettext("%(num)s overdue", "%(num)s overdue", overdue) % {"num": n(overdue)}
        parts.append(
            f'<g><title>{escape(summary)}</title>'
            f'<text x="0" y="{y + 19}" class="label">{text}</text>'
            f'<rect class="reported" x="{label_width}" y="{y}" width="{_width(reported, largest):.1f}" '
            f'height="{ROW - 8}" rx="3"></rect>'
            f'<rect class="followed" x="{label_width}" y="{y}" width="{_width(followed, largest):.1f}" '
            f'height="{ROW - 8}" rx="3"></rect>'
            f'<text x="{label_width + _width(reported, largest) + 8:.1f}" y="{y + 19}" class="value">'
            f'{escape(n(reported))}' + (f' · <tspan class="late">{escape(late)}</tspan>' if overdue else "") + "</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
