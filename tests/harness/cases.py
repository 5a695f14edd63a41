"""Driving a case through the examining authority as a test needs it: the clarification the reported civil
servant gives (or declines) is recorded before a proven finding (presumption of innocence)."""

from __future__ import annotations

CLARIFICATION_SUMMARY = "Mengakui unggahan tersebut; menyatakan tidak bermaksud berkampanye."


def clarification_body(outcome: str = "given", clarified_on: str | None = None) -> dict:
    body: dict = {"outcome": outcome}
    if outcome == "given":
        body["summary"] = CLARIFICATION_SUMMARY
    if clarified_on:
        body["clarified_on"] = clarified_on
    return body


async def record_clarification(system, case_id: str, *, agency: str = "BKN", role: str = "examiner",  # noqa: ANN001
                               outcome: str = "given", clarified_on: str | None = None) -> dict:
    """Record it as the examining authority (default BKN's examiner); the case as recommendation answers it."""
    async with system.client("recommendation", system.token(agency, role)) as client:
        answer = await client.post(f"/v1/cases/{case_id}/clarification",
                                   json=clarification_body(outcome, clarified_on))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def examine_proven(system, case_id: str, body: dict, *, agency: str = "BKN",  # noqa: ANN001
                         role: str = "examiner"):
    """The clarification, then the proven finding ``body``; the examination's response."""
    await record_clarification(system, case_id, agency=agency, role=role)
    async with system.client("recommendation", system.token(agency, role)) as client:
        return await client.post(f"/v1/cases/{case_id}/examination", json=body)
