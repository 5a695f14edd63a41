"""The replay checks hashes and signatures in processes of its own: it must admit and refuse exactly what the
live consumer's own admission does in this process, for the same reasons."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.msg import Msg

from services.cli.replay import ReplayResult, _Checks
from shared.events import EVENT_MODELS, nats_subject
from tests.harness.signing import fixed_producer_keys
from tests.unit.ledger_fixtures import case_log


def _messages() -> list[Msg]:
    log = case_log(4)
    forged = log[2].model_copy(update={"signature": log[3].signature})  # another event's signature
    tampered = log[4].model_copy(update={"data": {**log[4].data, "nip": "199001012015011001"}})  # hash no longer fits
    unsigned = log[5].model_copy(update={"signature": None})
    wrong_subject = log[6]
    events = [log[0], log[1], forged, log[3], tampered, unsigned, log[7]]
    msgs = [(nats_subject(EVENT_MODELS[e.type]), e.model_dump_json(exclude_none=True).encode()) for e in events]
    msgs.append(("sbt.events.blocking.personnel.blocked.v1", wrong_subject.model_dump_json(exclude_none=True).encode()))
    msgs.append((msgs[0][0], b"{not json"))
    return [Msg(_client=None, subject=subject, data=data, reply=f"$JS.ACK.SBT.replay.1.{seq}.{seq}.0.0")
            for seq, (subject, data) in enumerate(msgs, start=1)]


async def _admitted(processes: int) -> tuple[list[tuple[int, str]], list[str]]:
    checks = _Checks(fixed_producer_keys(), processes)
    try:
        msgs = _messages()
        result = ReplayResult(position=len(msgs))
        batch = await checks.admit(msgs, checks.submit(msgs), result)
        return [(seq, envelope.model_dump_json()) for seq, envelope in batch], result.skipped
    finally:
        checks.close()


@pytest.mark.parametrize("processes", [1, 2])
def test_checks_in_other_processes_admit_and_refuse_what_this_process_does(processes: int) -> None:
    here, refused_here = asyncio.run(_admitted(0))
    there, refused_there = asyncio.run(_admitted(processes))
    assert [seq for seq, _ in here] == [1, 2, 4, 7]
    assert there == here
    assert refused_there == refused_here
    reasons = "\n".join(refused_here)
    for expected in ("stream 3:", "does not carry a valid signature", "stream 5:", "content does not match its hash",
                     "stream 6:", "is not signed", "stream 8:", "stream 9:", "not a valid envelope"):
        assert expected in reasons


def test_when_a_checking_process_dies_this_process_checks_the_rest_alike():
    async def run() -> tuple[list[str], list[str]]:
        checks = _Checks(fixed_producer_keys(), 1)
        try:
            msgs = _messages()
            result = ReplayResult(position=len(msgs))
            await checks.admit(msgs, checks.submit(msgs), result)  # the process is up
            for process in list(checks.pool._processes.values()):  # noqa: SLF001 - killed as the OOM killer would
                process.kill()
                process.join()
            later = ReplayResult(position=len(msgs))
            batch = await checks.admit(msgs, checks.submit(msgs), later)
            assert checks.pool is None  # given up: the checks are made here from now on
            return [envelope.id for _, envelope in batch], later.skipped
        finally:
            checks.close()

    ids, skipped = asyncio.run(run())
    here, refused_here = asyncio.run(_admitted(0))
    assert len(ids) == len(here) == 4
    assert skipped == refused_here
