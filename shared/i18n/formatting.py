"""Numbers, dates and times the way a reader of ``lang`` writes them (babel's CLDR data), and times in the
civil servant's province's zone with the zone's name: the log keeps UTC, people read their own clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from babel.dates import format_date, format_time
from babel.numbers import format_decimal

from shared.i18n import DEFAULT, translations
from shared.i18n.zones import tzinfo, zone_of


def _as_datetime(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Formatter:
    lang: str = DEFAULT

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.lang)

    def date(self, value: dt.date | str | None) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = dt.date.fromisoformat(value[:10])
        if isinstance(value, dt.datetime):
            value = value.date()
        return format_date(value, format="medium", locale=self.lang)

    def datetime(self, value: dt.datetime | str | None, province: str | None) -> str:
        """A moment in the zone of ``province``: "16 Des 2026 10.04 WITA" (minutes, no seconds)."""
        if value is None or value == "":
            return ""
        zone = zone_of(province)
        local = _as_datetime(value).astimezone(tzinfo(zone))
        return f"{format_date(local.date(), format='medium', locale=self.lang)} " \
               f"{format_time(local.time(), format='short', locale=self.lang)} {zone}"

    def working_days_late(self, days: int) -> str:
        return translations(self.lang).ngettext("%(num)s working day late", "%(num)s working days late",
                                                days) % {"num": self.number(days)}


def short_id(identifier: str | None) -> str:
    """A ULID's last eight characters (its random part, so neighbours in time still differ), in two groups:
    enough to tell cases apart on a page; the full id stays in the link and its title."""
    if not identifier:
        return ""
    tail = identifier[-8:]
    return f"{tail[:4]}-{tail[4:]}" if len(identifier) > 8 else identifier
