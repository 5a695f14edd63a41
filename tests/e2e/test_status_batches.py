"""The status service applies events a batch at a time, in one transaction, on a real nats-server and a real
database (SQLite, or PostgreSQL with SBT_TEST_DATABASE_URL): a poison event in the middle of a batch is
dead-lettered while the others apply once; a batch committed but never acknowledged (the process died in
between) is delivered again and changes nothing; and a batch gives exactly what its events give one
transaction at a time, parked and out-of-order events included."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from sqlalchemy import func, select, text

from services.cli.replay import replay, state_hashes
from services.status.handlers import handlers
from services.status.ledger.store import Ledger
from services.status.models import ledger as ledger_tables
from services.status.models import messaging
from shared.db import create_engine, sessionmaker
from shared.events import EVENT_MODELS, Envelope, nats_subject
from shared.events.blocking import PersonnelBlocked, PersonnelUnblocked
from shared.events.intake import CaseOpened, ReportReceived
from shared.events.recommendation import VerificationDecided
from shared.messaging.consumer import BatchHandlers, Consumer, Incoming
from shared.migrations import upgrade
from services.cli.settings import SystemSettings
from tests.harness import database
from tests.harness.nats import NatsServer
from tests.harness.signing import fixed_producer_keys, install_test_keys
from tests.unit.ledger_fixtures import case_log, chain

pytestmark = pytest.mark.e2e

STREAM = "SBT_EVENTS"


class ProcessDied(Exception):
    """Raised where a process would die: after its batch committed, before the acknowledgements."""


@pytest.fixture
async def databases(tmp_path):  # noqa: ANN001
    made = database.TestDatabases(tmp_path, ["status", "status_once"])
    await made.create()
    yield made
    await made.drop()


@pytest.fixture
async def status_database(databases):  # noqa: ANN001
    for name in ("status", "status_once"):
        await asyncio.to_thread(upgrade, "status", databases.url(name))
    engines = {name: create_engine(databases.url(name)) for name in ("status", "status_once")}
    yield {name: sessionmaker(engine) for name, engine in engines.items()}
    for engine in engines.values():
        await engine.dispose()


@pytest.fixture
async def nats_server(tmp_path):  # noqa: ANN001
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture
async def jetstream(nats_server):  # noqa: ANN001
    connection = await nats.connect(nats_server.url)
    js = connection.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=["sbt.events.>"]))
    # A pull consumer of the test's own, with a short ack wait: what is not acknowledged comes back in a second.
    await js.add_consumer(STREAM, ConsumerConfig(durable_name="batches", ack_policy=AckPolicy.EXPLICIT, ack_wait=1))
    yield js, await js.pull_subscribe_bind(durable="batches", stream=STREAM)
    await connection.close()


def status_consumer(sessions, **options) -> Consumer:  # noqa: ANN001
    return Consumer(name="status", sessions=sessions, tables=messaging, bus=None, keys=fixed_producer_keys(),
                    handlers=handlers(Ledger(ledger_tables, log_id="sbt-status")), **options)


async def publish(js, envelopes: list[Envelope]) -> None:  # noqa: ANN001
    for envelope in envelopes:
        await js.publish(nats_subject(EVENT_MODELS[envelope.type]), envelope.model_dump_json(exclude_none=True).encode(),
                         headers={"Nats-Msg-Id": envelope.id})


async def count(sessions, table: str) -> int:  # noqa: ANN001
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(text(table)))


async def snapshot(sessions) -> dict[str, str]:  # noqa: ANN001
    async with sessions() as session:
        return await state_hashes(session)


async def test_a_poison_event_in_a_batch_is_dead_lettered_and_the_others_apply_once(status_database, jetstream):
    sessions = status_database["status"]
    js, subscription = jetstream
    intake = case_log(3)[:6]  # three cases, each opened with one report: intake #1..#6
    decided = {**VerificationDecided.examples[0], "case_id": intake[0].subject}
    misfiled = chain("recommendation", [(VerificationDecided.event_type, "another-case", decided)])
    await publish(js, [*intake[:3], *misfiled, *intake[3:]])
    consumer = status_consumer(sessions, max_deliver=2, retry_delay=0.05)

    first = await subscription.fetch(10, timeout=2)
    assert len(first) == 7
    await consumer.process(first)  # the batch fails; its events are applied one by one, the poison is retried
    again = await subscription.fetch(10, timeout=2)
    assert [m.metadata.num_delivered for m in again] == [2]
    await consumer.process(again)

    assert await count(sessions, "inbox") == await count(sessions, "events") == 6
    assert await count(sessions, "ledger_leaves") == 6 and await count(sessions, "case_status") == 3
    async with sessions() as session:
        (letter,) = (await session.execute(select(messaging.dead_letters))).all()
        logged = set(await session.scalars(text("SELECT event_id FROM events")))
    assert letter.event_id == misfiled[0].id and letter.attempts == 2
    assert "is not its case" in letter.error
    assert logged == {e.id for e in intake}

    # A batch that committed but whose process died before acknowledging it comes back: it changes nothing.
    later = chain("intake", [(e.type, e.subject.replace("CASE", "CAS2"), {**e.data, "case_id": e.subject.replace("CASE", "CAS2")})
                             for e in intake[:2]], start_seq=7, prev=intake[-1].hash)
    await publish(js, later)

    def die() -> None:
        raise ProcessDied

    # The consumer calls its after-commit hook (the outbox relay's wake-up, for handlers that stage events)
    # between the commit and the acknowledgements: the process dies there.
    status = handlers(Ledger(ledger_tables, log_id="sbt-status"))
    dying = Consumer(name="status", sessions=sessions, tables=messaging, bus=None, after_commit=die,
                     keys=fixed_producer_keys(),
                     handlers=BatchHandlers(status.event_models, status.apply, prepare=status.prepare))
    with pytest.raises(ProcessDied):
        await dying.process(await subscription.fetch(10, timeout=2))
    committed = await snapshot(sessions)
    assert await count(sessions, "events") == 8

    redelivered = await subscription.fetch(10, timeout=5)
    assert [m.metadata.num_delivered for m in redelivered] == [2, 2]
    await consumer.process(redelivered)
    assert await snapshot(sessions) == committed
    assert await count(sessions, "inbox") == 8 and await count(sessions, "dead_letters") == 1
    with pytest.raises(TimeoutError):  # everything was acknowledged this time
        await subscription.fetch(10, timeout=1.5)


async def test_a_batch_gives_what_its_events_give_one_transaction_at_a_time(status_database):
    log = case_log(3)
    block, blocking = _blocked_and_lifted(log)
    # In stream order: intake #4 (case 2's report) comes before #3 (its opening), so it waits parked for it,
    # and is then applied after an event of its case with a later stream position: the case is folded again.
    intake = [e for e in log if e.producer == "intake"]
    order = [intake[0], intake[1], intake[3], intake[2], *intake[4:], *blocking,
             *[e for e in log if e.producer == "recommendation"]]
    events = [Incoming(e, EVENT_MODELS[e.type].model_validate(e.data), seq) for seq, e in enumerate(order, start=1)]

    batch = handlers(Ledger(ledger_tables, log_id="sbt-status"))
    async with status_database["status"].begin() as session:
        await batch.prepare(session)
        await batch.apply(session, events)
    one_by_one = handlers(Ledger(ledger_tables, log_id="sbt-status"))
    for event in events:
        async with status_database["status_once"].begin() as session:
            await one_by_one[EVENT_MODELS[event.envelope.type]](session, event)

    together, apart = await snapshot(status_database["status"]), await snapshot(status_database["status_once"])
    assert together == apart
    for sessions in status_database.values():
        assert await count(sessions, "ledger_parked") == 0
        assert await count(sessions, "ledger_leaves") == len(order)
        async with sessions() as session:
            case_two = await session.scalar(text("SELECT state FROM case_status WHERE case_id = :c"),
                                            {"c": intake[2].subject})
            block_row = (await session.execute(text("SELECT lifted_at, cause FROM personnel_blocks"))).one()
        assert '"report_ids":["01REPT' in case_two and '"stage":"awaiting_verification"' in case_two
        assert block_row.lifted_at is not None and block_row.cause == block["cause"]


async def test_the_replay_reproduces_what_the_live_consumer_applied_parked_and_refused(
    status_database, databases, jetstream, nats_server, tmp_path
):
    js, subscription = jetstream
    log = case_log(3)
    intake = [e for e in log if e.producer == "intake"]
    first_case = log[0].subject
    block, blocking = _blocked_and_lifted(log)
    decided = [e for e in log if e.producer == "recommendation"]
    misfiled = chain("recommendation", [
        (VerificationDecided.event_type, "another-case", {**VerificationDecided.examples[0], "case_id": first_case}),
        (VerificationDecided.event_type, intake[2].subject,
         {**VerificationDecided.examples[0], "case_id": intake[2].subject}),
    ], start_seq=2, prev=decided[0].hash)
    # In stream order: intake #4 before #3 (parked, then applied), the same event twice (the second skipped),
    # a misfiled event (refused; the recommendation's next event then waits for it, parked), blocks.
    await publish(js, [intake[0], intake[1], intake[3], intake[2], *decided, *blocking, *misfiled, *intake[4:]])
    await js.publish(nats_subject(EVENT_MODELS[intake[0].type]), intake[0].model_dump_json(exclude_none=True).encode(),
                     headers={"Nats-Msg-Id": "the-same-event-again"})
    await publish(js, more_cases(intake[-1], 2))

    live = status_consumer(status_database["status"], max_deliver=1)
    while msgs := await _fetch(subscription, 4):
        await live.process(msgs)
    assert await count(status_database["status"], "dead_letters") == 1
    assert await count(status_database["status"], "ledger_parked") == 1
    assert await count(status_database["status"], "ledger_leaves") == len(intake) + 1 + 2 + 4

    install_test_keys(tmp_path / "data")  # the replay pins the producers' keys as a service there would
    settings = SystemSettings(env="test", data_dir=tmp_path / "data", nats_url=nats_server.url)
    result = await replay(settings, live_url=databases.url("status"), into_url=databases.url("status_once"),
                          batch_size=4, cases_kept=2)
    assert result.differing == [], result.skipped
    assert result.live == await snapshot(status_database["status"])
    assert result.applied == len(intake) + 1 + 2 + 4 + 1  # the parked event counts as applied, as live
    assert any(misfiled[0].id in line and "is not its case" in line for line in result.skipped)
    assert any(intake[0].id in line and "already applied" in line for line in result.skipped)


def more_cases(after: Envelope, cases: int) -> list[Envelope]:
    payloads = []
    for number in range(cases):
        case_id, report = f"01MORE{number:020d}", f"01MREP{number:020d}"
        payloads += [(CaseOpened.event_type, case_id, {**CaseOpened.examples[0], "case_id": case_id}),
                     (ReportReceived.event_type, case_id, {**ReportReceived.examples[0], "case_id": case_id,
                                                           "report_id": report})]
    return chain("intake", payloads, start_seq=after.producerseq + 1, prev=after.hash)


async def _fetch(subscription, batch: int) -> list:  # noqa: ANN001
    try:
        return await subscription.fetch(batch, timeout=1)
    except TimeoutError:
        return []


async def test_rows_inserted_in_bulk_read_back_as_written(status_database):
    """Many rows per statement (more than one statement's worth of parameters), with the columns' own
    conversions (booleans, dates, UTC times), read back through the ORM as they were given."""
    import datetime as dt

    from services.status import bulk
    from services.status.models import CaseRow

    now = dt.datetime(2024, 10, 15, 3, 4, 5, 678901, tzinfo=dt.UTC)
    columns = ("case_id", "nip", "election_code", "agency_code", "province", "stage", "state", "last_stream_seq",
               "updated_at", "verified", "proven", "recommended", "followed_up", "overdue", "blocked", "unblocked",
               "ever_blocked", "unblocked_after_followup", "unblocked_by_hand", "block_declined", "due_date")
    rows = [(f"C{number:04d}", "198609262015051001", "PILKADA-2024", None if number % 3 else "A1", "JAWA BARAT",
             "awaiting_ppk", "{}", number, now, number % 2 == 0, True, False, number % 5 == 0, False, True, False,
             True, False, number % 7 == 0, False, dt.date(2024, 11, 4) if number % 2 else None)
            for number in range(250)]
    assert len(rows) * len(columns) > bulk.MAX_PARAMETERS
    async with status_database["status"].begin() as session:
        await bulk.insert_rows(session, CaseRow.__table__, columns, rows)
    async with status_database["status"]() as session:
        stored = (await session.scalars(select(CaseRow).order_by(CaseRow.case_id))).all()
    assert [tuple(getattr(row, column) for column in columns) for row in stored] == rows


async def test_the_ledger_tells_the_new_tree_size_when_a_batch_is_written_and_again_once_it_commits(
    status_database,
):
    # The read index answers from the database from the first moment and re-reads once the batch commits.
    ledger = Ledger(ledger_tables, log_id="sbt-status")
    appended, committed = [], []
    ledger.on_append.append(appended.append)
    ledger.on_commit.append(committed.append)
    log = case_log(2)
    events = [Incoming(e, EVENT_MODELS[e.type].model_validate(e.data), seq) for seq, e in enumerate(log, start=1)]
    batch = handlers(ledger)
    async with status_database["status"].begin() as session:
        await batch.prepare(session)
        await batch.apply(session, events)
        assert appended == [len(log)] and committed == []  # not yet: the transaction is still open
    assert committed == [len(log)]


def _blocked_and_lifted(log: list) -> tuple[dict, list]:
    """The first case's civil servant blocked and unblocked: the block's data, and the blocking service's two
    chained events."""
    first_case = log[0].subject
    nip, agency = log[0].data["nip"], log[0].data["agency_code"]
    block = {**PersonnelBlocked.examples[0], "nip": nip, "case_id": first_case, "agency_code": agency}
    unblock = {**PersonnelUnblocked.examples[0], "nip": nip, "case_id": first_case, "block_id": block["block_id"]}
    return block, chain("blocking", [(PersonnelBlocked.event_type, first_case, block),
                                     (PersonnelUnblocked.event_type, first_case, unblock)])
