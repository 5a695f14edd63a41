"""What a page shows a person instead of codes: agency and PPK names from the reference events the status
service received (its own event log, never intake's tables), the catalogue's violation descriptions, the
words for stages, sanction levels and events, and times in the civil servant's own zone.

The English words here are gettext msgids, marked with ``N_`` and translated when a page is rendered
(the catalogues are in ``shared/i18n/locale``; ``make messages`` extracts them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.status.models import LoggedEvent
from shared.events.reference import AgencyRegistered, ViolationRegistered
from shared.i18n import N_, translations
from shared.i18n.formatting import Formatter, short_id

SANCTION_WORDS = {
    "moral_closed": N_("closed moral sanction"),
    "moral_open": N_("open moral sanction"),
    "light": N_("light disciplinary sanction"),
    "moderate": N_("moderate disciplinary sanction"),
    "severe": N_("severe disciplinary sanction"),
    "dishonourable_dismissal": N_("dishonourable dismissal"),
}
CATEGORY_WORDS = {"ethics": N_("code of ethics"), "discipline": N_("discipline")}
BLOCK_CAUSES = {"overdue": N_("follow-up overdue"), "manual": N_("decided by BKN")}
EVENT_WORDS = {
    "sbt.report.received.v1": N_("report received"),
    "sbt.case.opened.v1": N_("case opened"),
    "sbt.case.verification_decided.v1": N_("verification decided"),
    "sbt.case.clarification_recorded.v1": N_("clarification of the reported civil servant recorded"),
    "sbt.case.examined.v1": N_("examined"),
    "sbt.recommendation.issued.v1": N_("recommendation issued"),
    "sbt.followup.deadline_set.v1": N_("follow-up deadline set"),
    "sbt.followup.deadline_suspended.v1": N_("follow-up deadline suspended"),
    "sbt.followup.deadline_resumed.v1": N_("follow-up deadline resumed"),
    "sbt.followup.deadline_extended.v1": N_("follow-up deadline extended"),
    "sbt.followup.warning.v1": N_("early warning to the PPK"),
    "sbt.followup.overdue.v1": N_("follow-up overdue"),
    "sbt.followup.recorded.v1": N_("follow-up recorded"),
    "sbt.followup.ppk_reminded.v1": N_("BKN reminded the PPK"),
    "sbt.escalation.raised.v1": N_("escalated"),
    "sbt.personnel.blocked.v1": N_("personnel data blocked"),
    "sbt.personnel.unblocked.v1": N_("personnel data unblocked"),
    "sbt.block.declined.v1": N_("BKN decided not to block"),
    "sbt.block.time_granted.v1": N_("BKN gave the PPK more time"),
}


@dataclass
class Reference:
    """The latest registration of each agency and violation type, as the status service logged them."""

    agencies: dict[str, dict] = field(default_factory=dict)
    violations: dict[str, dict] = field(default_factory=dict)


async def reference(session: AsyncSession) -> Reference:
    kinds = {AgencyRegistered.event_type: "agencies", ViolationRegistered.event_type: "violations"}
    query = select(LoggedEvent.event_type, LoggedEvent.envelope).where(
        LoggedEvent.event_type.in_(kinds)).order_by(LoggedEvent.stream_seq)
    found = Reference()
    for event_type, envelope in (await session.execute(query)).all():
        data = orjson.loads(envelope).get("data", {})
        getattr(found, kinds[event_type])[data["code"]] = data  # a later registration replaces an earlier
    return found


def _place(name: str | None) -> str:
    """Province names are kept upper-case as codes; people write "Jawa Barat", "DKI Jakarta"."""
    if not name:
        return ""
    return " ".join(word if word in {"DKI", "DI"} else word.capitalize() for word in name.split())


@dataclass
class Presenter:
    """Bound to one page: its language and the reference data, available in templates as ``show``."""

    lang: str
    names: Reference = field(default_factory=Reference)

    def __post_init__(self) -> None:
        self.fmt = Formatter(self.lang)
        self._ = translations(self.lang).gettext

    # -- names instead of codes
    def agency(self, code: str | None) -> str:
        if not code:
            return self._("unknown agency")
        return self.names.agencies.get(code, {}).get("name") or code

    def ppk(self, code: str | None) -> str:
        """The PPK by title ("Gubernur Jambi", "Bupati Bogor", "Menteri Agama"), with the name if known."""
        agency = self.names.agencies.get(code or "")
        if agency is None:
            return self._("PPK of %(agency)s") % {"agency": code} if code else self._("PPK unknown")
        title = agency.get("ppk_title") or self._("PPK of %(agency)s") % {"agency": agency.get("name") or code}
        return f"{title} ({agency['ppk_name']})" if agency.get("ppk_name") else title

    def violation(self, code: str) -> str:
        return self.names.violations.get(code, {}).get("description") or code

    def province(self, name: str | None) -> str:
        return _place(name) if name else self._("unknown province")

    def sanction(self, level: str | None) -> str:
        return self._(SANCTION_WORDS[level]) if level in SANCTION_WORDS else (level or "")

    def category(self, category: str | None) -> str:
        return self._(CATEGORY_WORDS[category]) if category in CATEGORY_WORDS else (category or "")

    def cause(self, cause: str | None) -> str:
        return self._(BLOCK_CAUSES[cause]) if cause in BLOCK_CAUSES else (cause or "")

    def event(self, event_type: str) -> str:
        return self._(EVENT_WORDS[event_type]) if event_type in EVENT_WORDS else event_type

    # -- formats
    def short(self, identifier: str | None) -> str:
        return short_id(identifier)

    def number(self, value: int) -> str:
        return self.fmt.number(value)

    def date(self, value: dt.date | str | None) -> str:
        return self.fmt.date(value)

    def when(self, value: dt.datetime | str | None, province: str | None) -> str:
        return self.fmt.datetime(value, province)

    def late(self, days: int) -> str:
        return self.fmt.working_days_late(days)
