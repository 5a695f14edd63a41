"""The status read answered from memory (services/status/read_index.py + hot_path.py) says exactly what the
database route says, for every kind of reader, and is never behind what its own process has applied; a
replica that did not apply an event catches up from the ledger."""

from __future__ import annotations

import httpx
import pytest

from shared.events.blocking import PersonnelBlocked
from shared.events.intake import CaseOpened, ReportReceived
from tests.e2e.test_ledger import more_intake, publish, wait_for_size
from tests.harness.ports import eventually
from tests.e2e.reports import random_nip
from tests.unit.ledger_fixtures import case_log, chain

pytestmark = pytest.mark.e2e


def _from_memory(response: httpx.Response) -> bool:
    # The hot path says so, and continues the caller's trace as the FastAPI stack does.
    return (response.status_code == 200 and response.headers.get("sbt-read-index") == "hit"
            and "traceparent" in response.headers)


async def _both(client: httpx.AsyncClient, nip: str) -> tuple[httpx.Response, dict]:
    """The plain answer, and the database route's answer (``?proofs=true`` always goes there) without proofs."""
    plain = await client.get(f"/v1/asn/{nip}/status")
    database = (await client.get(f"/v1/asn/{nip}/status", params={"proofs": "true"})).json()
    database["proofs"] = None
    return plain, database


async def test_the_status_from_memory_equals_the_database_route_and_is_never_behind_own_writes(make_system):
    system = await make_system("status", extra_env={"SBT_LEDGER_CHECKPOINT_SECONDS": "0"})
    events = case_log()
    first_case = events[0].subject
    nip, agency = events[0].data["nip"], events[0].data["agency_code"]
    block = {**PersonnelBlocked.examples[0], "nip": nip, "case_id": first_case, "agency_code": agency}
    events += chain("blocking", [(PersonnelBlocked.event_type, first_case, block)])
    await publish(system, events)
    await wait_for_size(system, len(events))

    readers = {
        "observer": system.token("BKN", "observer"),
        "own PPK": system.token(agency, "ppk", ppk_agency=agency),
        "other PPK": system.token("PEMKAB-BOGOR", "ppk", ppk_agency="PEMKAB-BOGOR"),
    }
    for who, token in readers.items():
        async with system.client("status", token) as client:
            async def served_from_memory() -> bool:
                return _from_memory(await client.get(f"/v1/asn/{nip}/status"))

            await eventually(served_from_memory, 10, "the index loaded")
            plain, database = await _both(client, nip)
            assert _from_memory(plain), who
            assert plain.json() == database, who
            cases = plain.json()["cases"]
            assert len(cases) == (0 if who == "other PPK" else 3), who
            assert plain.json()["blocked"] is (who != "other PPK"), who
            assert plain.json()["checkpoint"]["tree_size"] == len(events), who

    # Errors are still the route's problem bodies.
    async with system.client("status", readers["observer"]) as client:
        invalid = await client.get("/v1/asn/123/status")
        assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "nip"
    async with httpx.AsyncClient(base_url=system["status"].url) as anonymous:
        assert (await anonymous.get(f"/v1/asn/{nip}/status")).status_code == 401

    # Read right after the tree grows: never an answer older than what this process has applied.
    more = more_intake(events, 2)
    await publish(system, more)
    await wait_for_size(system, len(events) + len(more))
    async with system.client("status", readers["observer"]) as client:
        answer = (await client.get(f"/v1/asn/{nip}/status")).json()
    assert answer["checkpoint"]["tree_size"] == len(events) + len(more)
    assert len(answer["cases"]) == 5

    # A replica that applied none of them catches up from the ledger and answers the same from memory.
    replica = system.add_replica("status")
    headers = {"Authorization": f"Bearer {readers['observer']}"}
    async with httpx.AsyncClient(base_url=replica.url, headers=headers, timeout=10) as client:
        async def replica_agrees() -> bool:
            response = await client.get(f"/v1/asn/{nip}/status")
            return _from_memory(response) and response.json()["cases"] == answer["cases"]

        await eventually(replica_agrees, 20, "the replica answers from memory")

    # Both processes share the durable consumer, so each of the next events is applied by one of them; the
    # other learns of it from the ledger's leaves by its poll.
    last = more_intake([*events, *more], 1)
    await publish(system, last)
    for url in (system["status"].url, replica.url):
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
            async def shows_the_new_case() -> bool:
                response = await client.get(f"/v1/asn/{nip}/status")
                return _from_memory(response) and len(response.json()["cases"]) == 6

            await eventually(shows_the_new_case, 20, f"{url} shows the case applied by either process")


async def test_a_civil_servant_whose_cases_are_not_kept_is_loaded_when_read_and_says_the_same(make_system):
    # Room for two civil servants' cases: the other NIPs' are loaded when read, dropping the least recently read.
    system = await make_system("status", extra_env={"SBT_LEDGER_CHECKPOINT_SECONDS": "0",
                                                     "SBT_STATUS_INDEX_KEPT": "2"})
    nips = [random_nip() for _ in range(4)]
    payloads = []
    for number, nip in enumerate([*nips, nips[0]]):  # the first civil servant has two cases
        case_id = f"01KEPT{number:020d}"
        payloads += [(CaseOpened.event_type, case_id, {**CaseOpened.examples[0], "case_id": case_id, "nip": nip}),
                     (ReportReceived.event_type, case_id, {**ReportReceived.examples[0], "case_id": case_id,
                                                           "report_id": f"01KREP{number:020d}"})]
    events = chain("intake", payloads)
    await publish(system, events)
    await wait_for_size(system, len(events))

    async with system.client("status", system.token("BKN", "observer")) as client:
        async def agrees(nip: str, cases: int) -> bool:
            plain, database = await _both(client, nip)
            assert plain.json() == database
            return _from_memory(plain) and len(database["cases"]) == cases

        # Every one read twice round, so each read of the first round's NIPs finds them dropped again.
        for _ in range(2):
            for nip in nips:
                await eventually(lambda nip=nip: agrees(nip, 2 if nip == nips[0] else 1), 10, f"{nip} from memory")

        # A change to a civil servant not kept shows when it is next read, from memory.
        another = {**ReportReceived.examples[0], "case_id": events[0].subject, "report_id": "01KREP99999999999999999999"}
        await publish(system, chain("intake", [(ReportReceived.event_type, events[0].subject, another)],
                                    start_seq=len(events) + 1, prev=events[-1].hash))
        await wait_for_size(system, len(events) + 1)

        async def shows_the_second_report() -> bool:
            plain, database = await _both(client, nips[0])
            return _from_memory(plain) and plain.json() == database and sorted(
                case["report_count"] for case in database["cases"]) == [1, 2]

        await eventually(shows_the_second_report, 10, "the new report from memory")
