"""The notify service's rules, pure: where an event belongs (agency, election, province), which
subscriptions and feeds it goes to, and when a failed delivery is tried again."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from shared.authz import AGENCY_SCOPED_ROLES, AgencyScope, allowed
from shared.events import Envelope, EventData
from shared.regions import offices_of_agency

# The feed of national subscribers (every agency's civil servants); a regional office's is KANREG-<its code>
# (its region's agencies' events); every other feed is an agency's code.
NATIONAL_FEED = "NATIONAL"
OFFICE_FEED_PREFIX = "KANREG-"
FEED_PREFIX = "sbt.feeds"
EVENT_PREFIX = "sbt.events."

# Subscription states, and what may follow each (a deleted subscription is gone for good).
ACTIVE, PAUSED, DISABLED, DELETED = "active", "paused", "disabled", "deleted"
TRANSITIONS: dict[tuple[str, str], str] = {
    (ACTIVE, "pause"): PAUSED,
    (PAUSED, "resume"): ACTIVE,
    (DISABLED, "resume"): ACTIVE,
    (ACTIVE, "resume"): ACTIVE,
    (PAUSED, "pause"): PAUSED,
}


class NotAllowed(Exception):
    """The transition is not allowed from the subscription's state."""


def transition(state: str, action: str) -> str:
    match TRANSITIONS.get((state, action)):
        case None:
            raise NotAllowed(f"cannot {action} a subscription that is {state}")
        case next_state:
            return next_state


# Which permission of shared/authz.py lets a subscriber receive an event: the one under which the REST API
# shows the same fact (a case's events on its timeline, escalations, the ledger's public data). A subscriber
# receives an event only if one of its roles holds it, within its agency scope.
EVENT_PERMISSIONS: dict[str, str] = {
    "sbt.escalation.raised.v1": "escalation:read",
    "sbt.agency.registered.v1": "ledger:read",
    "sbt.election.registered.v1": "ledger:read",
    "sbt.violation.registered.v1": "ledger:read",
    "sbt.ledger.checkpoint.v1": "ledger:read",
    "sbt.subscription.disabled.v1": "subscription:read",
}
CASE_EVENT_PERMISSION = "timeline:read"


def event_permission(event_type: str) -> str:
    return EVENT_PERMISSIONS.get(event_type, CASE_EVENT_PERMISSION)


def may_receive(roles: Sequence[str], event_type: str) -> bool:
    return allowed(event_permission(event_type), roles)


@dataclass(frozen=True)
class Route:
    """Where an event belongs: the agency whose civil servant it is about (None: no agency's, e.g. reference
    data), its election and province, and the key deliveries keep order by (its CloudEvents subject)."""

    agency_code: str | None
    election_code: str | None
    province: str | None
    order_key: str


@dataclass(frozen=True)
class KnownCase:
    agency_code: str | None
    election_code: str | None
    province: str | None


def case_id_of(envelope: Envelope, data: EventData) -> str | None:
    return getattr(data, "case_id", None) or None


def route(envelope: Envelope, data: EventData, case: KnownCase | None) -> Route:
    """The event's own facts first, what is known of its case for the rest."""
    agency = getattr(data, "agency_code", None) or (case.agency_code if case else None)
    election = getattr(data, "election_code", None) or (case.election_code if case else None)
    province = getattr(data, "province", None) or (case.province if case else None)
    return Route(agency, election, province, envelope.subject[:100])


@dataclass(frozen=True)
class Filters:
    event_types: Sequence[str] = ()
    election_codes: Sequence[str] = ()
    provinces: Sequence[str] = ()
    agency_codes: Sequence[str] = ()


def matches(scope: AgencyScope, roles: Sequence[str], filters: Filters, event_type: str, where: Route) -> bool:
    """Whether a subscription of this scope, roles and filters receives the event: its scope admits the
    event's agency and its roles the event's type (the rules of shared/authz.py), and every filter holds."""
    if not scope.admits(where.agency_code) or not may_receive(roles, event_type):
        return False
    if filters.event_types and event_type not in filters.event_types:
        return False
    if filters.election_codes and where.election_code not in filters.election_codes:
        return False
    if filters.provinces and (where.province or "").upper() not in {p.upper() for p in filters.provinces}:
        return False
    return not (filters.agency_codes and where.agency_code not in filters.agency_codes)


def office_feed(office: str) -> str:
    return f"{OFFICE_FEED_PREFIX}{office}"


def feeds_for(where: Route, event_type: str) -> list[str]:
    """The NATS feeds an event is republished on: the national one (read only by roles that may read every
    event type: subscribers.feed_of), and, when the agency-scoped roles (a PPK, a regional office) may read
    it, its agency's and that of each regional office overseeing the agency (shared.regions)."""
    feeds = [NATIONAL_FEED]
    if where.agency_code and may_receive(sorted(AGENCY_SCOPED_ROLES), event_type):
        offices = sorted(offices_of_agency(where.agency_code))
        feeds[:0] = [where.agency_code, *(office_feed(office) for office in offices)]
    return feeds


def feed_subject(feed: str, event_subject: str) -> str:
    """``sbt.feeds.<feed>.<producer>.<event>``: the original subject under the feed's prefix."""
    return f"{FEED_PREFIX}.{feed}.{event_subject.removeprefix(EVENT_PREFIX)}"


def feed_filter(feed: str) -> str:
    return f"{FEED_PREFIX}.{feed}.>"


def valid_feed_name(name: str) -> bool:
    """A feed name is one NATS subject token: no dots, spaces or wildcards."""
    return bool(name) and len(name) <= 40 and all(c.isalnum() or c in "-_" for c in name)


def next_attempt(now: dt.datetime, attempts_made: int, schedule: Sequence[float], jitter: float,
                 rng: random.Random | None = None) -> dt.datetime | None:
    """When to try again after ``attempts_made`` attempts failed (None: the schedule is spent). The wait
    is the schedule's next entry plus up to ``jitter`` of itself, never less than the entry."""
    if attempts_made >= len(schedule):
        return None
    delay = schedule[attempts_made]
    delay += delay * jitter * (rng or random).random()
    return now + dt.timedelta(seconds=delay)


def should_disable(failing_since: dt.datetime | None, now: dt.datetime, disable_after_seconds: float) -> bool:
    return failing_since is not None and (now - failing_since).total_seconds() >= disable_after_seconds
