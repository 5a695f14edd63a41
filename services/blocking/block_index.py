"""The personnel systems' question, "is this NIP blocked?", answered from memory.

Every process keeps the active blocks in a dict, built from its database at start and kept current from
the stream (every replica sees every block and unblock event, whoever placed it) and, for its own writes,
right after they commit. Answers are pre-serialised JSON, so a query is a dict lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

import orjson
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import select

from services.blocking.models import Block
from shared.events import Envelope
from shared.events.blocking import PersonnelBlocked, PersonnelUnblocked
from shared.ids import new_id
from shared.memory import set_aside_for_collector

log = logging.getLogger("sbt.blocking.index")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class BlockIndex:
    def __init__(self) -> None:
        self._blocks: dict[str, dict[str, dict]] = {}  # nip -> block_id -> block
        self._answers: dict[str, bytes] = {}
        self.ready = False

    def put(self, *, block_id: str, nip: str, case_id: str | None, agency_code: str | None, cause: str,
            reason: str, since: str) -> None:
        self._blocks.setdefault(nip, {})[block_id] = {
            "block_id": block_id, "case_id": case_id, "agency_code": agency_code, "cause": cause,
            "reason": reason, "since": since,
        }
        self._answers.pop(nip, None)

    def remove(self, *, block_id: str, nip: str) -> None:
        blocks = self._blocks.get(nip)
        if blocks is not None and blocks.pop(block_id, None) is not None:
            if not blocks:
                del self._blocks[nip]
            self._answers.pop(nip, None)

    def put_row(self, block: Block) -> None:
        self.put(block_id=block.block_id, nip=block.nip, case_id=block.case_id, agency_code=block.agency_code,
                 cause=block.cause, reason=block.reason, since=_iso(block.blocked_at))

    def is_blocked(self, nip: str) -> tuple[bool, str | None]:
        blocks = self._blocks.get(nip)
        if not blocks:
            return False, None
        return True, min(block["since"] for block in blocks.values())

    def answer(self, nip: str) -> bytes:
        """The body of ``GET /v1/personnel/{nip}/block`` (the BlockStatus schema)."""
        cached = self._answers.get(nip)
        if cached is not None:
            return cached
        blocks = sorted(self._blocks.get(nip, {}).values(), key=lambda block: block["since"])
        body = orjson.dumps({"nip": nip, "blocked": bool(blocks), "since": blocks[0]["since"] if blocks else None,
                             "blocks": blocks})
        if blocks:  # answers for the few blocked NIPs are kept; the millions of others are built each time
            self._answers[nip] = body
        return body

    def apply_event(self, envelope: Envelope) -> None:
        data = envelope.data
        if envelope.type == PersonnelBlocked.event_type:
            self.put(block_id=data["block_id"], nip=data["nip"], case_id=data.get("case_id"),
                     agency_code=data.get("agency_code"), cause=data["cause"], reason=data["reason"],
                     since=_iso(dt.datetime.fromisoformat(data["blocked_at"].replace("Z", "+00:00"))))
        elif envelope.type == PersonnelUnblocked.event_type:
            self.remove(block_id=data["block_id"], nip=data["nip"])

    def load(self, blocks: list[Block]) -> None:
        fresh = BlockIndex()
        for block in blocks:
            fresh.put_row(block)
        self._blocks, self._answers = fresh._blocks, {}
        self.ready = True
        set_aside_for_collector()  # the blocks just loaded live as long as the process


FEED_SUBJECT = "sbt.events.blocking.personnel.>"


async def keep_current(runtime, index: BlockIndex) -> None:  # noqa: ANN001 - the blocking Runtime
    """Keep ``index`` equal to the database's active blocks, for as long as the service runs.

    Each round subscribes to every block and unblock event first (an ephemeral push consumer of this
    process, delivered to its own inbox), then loads the database, then applies what arrived meanwhile:
    nothing committed before or after the load is missed. A reconnection to NATS may have dropped
    deliveries, so it starts a new round.
    """
    runtime.extensions["block_index"] = index
    while True:
        if not runtime.bus.connected:
            await asyncio.sleep(0.2)
            continue
        try:
            feed = await _subscribe(runtime, index)
        except Exception as error:  # noqa: BLE001 - NATS may still be starting
            log.warning("block index: subscribing failed (%s); retrying", error)
            await asyncio.sleep(0.5)
            continue
        connection = runtime.bus.nc
        reconnects = connection.stats["reconnects"]
        try:
            async with runtime.sessions() as session:
                index.load(list(await session.scalars(select(Block).where(Block.lifted_at.is_(None)))))
            feed.flush_pending()
            while runtime.bus.nc is connection and connection.stats["reconnects"] == reconnects:
                await asyncio.sleep(0.5)
            log.info("block index: NATS reconnected; reloading")
        finally:
            await feed.close()


class _Feed:
    def __init__(self, index: BlockIndex) -> None:
        self.index = index
        self.pending: list[Envelope] | None = []
        self.subscription = None

    async def on_message(self, msg) -> None:  # noqa: ANN001
        try:
            envelope = Envelope.model_validate(orjson.loads(msg.data))
        except Exception:  # noqa: BLE001 - the durable consumer dead-letters bad events; the index skips them
            return
        if not envelope.hash_is_valid() or envelope.producer != "blocking":
            return
        if self.pending is not None:
            self.pending.append(envelope)
        else:
            self.index.apply_event(envelope)

    def flush_pending(self) -> None:
        pending, self.pending = self.pending or [], None
        for envelope in pending:
            self.index.apply_event(envelope)

    async def close(self) -> None:
        # The server removes the consumer itself once it has been inactive for a minute; deleting it here
        # would hold up a shutdown whenever NATS is slow or gone.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.subscription.unsubscribe(), timeout=1)


async def _subscribe(runtime, index: BlockIndex) -> _Feed:  # noqa: ANN001
    await runtime.bus.ensure_stream()
    feed = _Feed(index)
    nc, js = runtime.bus.nc, runtime.bus.js
    deliver = nc.new_inbox()
    feed.subscription = await nc.subscribe(deliver, cb=feed.on_message)
    await js.add_consumer(runtime.settings.stream_name, config=ConsumerConfig(
        name=f"blocking_index_{new_id().lower()}", filter_subject=FEED_SUBJECT, deliver_subject=deliver,
        deliver_policy=DeliverPolicy.NEW, ack_policy=AckPolicy.NONE, inactive_threshold=60.0,
    ))
    return feed
