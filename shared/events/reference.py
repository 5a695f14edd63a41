"""Reference data, published by intake (which owns it) for the services that keep a projection of it.

The roster of civil servants is not published row by row: only intake needs it, to route each report
to the civil servant's agency and PPK, and the report events carry what the others need.
"""

from __future__ import annotations

from typing import Literal

from shared.events.base import EventData

Category = Literal["ethics", "discipline"]
SanctionLevel = Literal[
    "moral_closed",  # ethics: closed statement (pernyataan secara tertutup)
    "moral_open",  # ethics: open statement (pernyataan secara terbuka)
    "light",  # discipline: ringan
    "moderate",  # discipline: sedang
    "severe",  # discipline: berat
    "dishonourable_dismissal",  # pemberhentian tidak dengan hormat (party membership)
]
# From lightest to heaviest, so that "lighter than recommended" is a comparison.
SANCTION_ORDER: tuple[str, ...] = (
    "moral_closed", "moral_open", "light", "moderate", "severe", "dishonourable_dismissal",
)


class AgencyRegistered(EventData):
    """An agency (instansi) and its PPK were registered or updated."""

    event_type = "sbt.agency.registered.v1"
    producer = "intake"

    code: str
    name: str
    level: Literal["central", "province", "regency", "city"]
    province: str | None = None
    ppk_title: str
    ppk_name: str | None = None

    examples = [{
        "code": "PEMPROV-JABAR", "name": "Pemerintah Provinsi Jawa Barat", "level": "province",
        "province": "JAWA BARAT", "ppk_title": "Gubernur Jawa Barat", "ppk_name": None,
    }]


class ElectionRegistered(EventData):
    """An election (Pemilu or Pilkada) and the regions it covers."""

    event_type = "sbt.election.registered.v1"
    producer = "intake"

    code: str
    name: str
    kind: Literal["pemilu", "pilkada"]
    voting_date: str
    regions: list[str] = []
    # The oversight period (ISO dates): from the start of the stages to the end of the disputes. Reports of
    # incidents outside it are refused. Optional only so that events published before it existed still read.
    oversight_from: str | None = None
    oversight_until: str | None = None

    examples = [{
        "code": "PILKADA-2024", "name": "Pemilihan Kepala Daerah Serentak 2024", "kind": "pilkada",
        "voting_date": "2024-11-27", "regions": ["JAWA BARAT", "JAWA TENGAH"],
        "oversight_from": "2024-01-26", "oversight_until": "2025-08-31",
    }]


class ViolationRegistered(EventData):
    """A violation type of the catalogue, with its legal basis and default sanction."""

    event_type = "sbt.violation.registered.v1"
    producer = "intake"

    code: str
    category: Category
    description: str
    legal_basis: str
    default_sanction: SanctionLevel

    examples = [{
        "code": "ETIK-MEDSOS", "category": "ethics",
        "description": "Kampanye atau sosialisasi melalui media sosial",
        "legal_basis": "PP 42/2004 pasal 11", "default_sanction": "moral_open",
    }]
