"""The personnel systems' question, "is this NIP blocked?", answered from memory.

Every process keeps the active blocks in a dict, built from its database at start and kept current in two
ways: its own writes right after they commit, and everyone else's by reading the database again. Replicas
of the blocking service share one database, so the database is the truth; a block or unblock event seen on
the bus (a plain subscription to the service's own subjects, no JetStream consumer) only says which NIP to
read again, with one indexed query off the request path. Nothing an event says is applied, so an event
published on the bus outside the chain (a forged unblock with a valid hash and any sequence) cannot change
an answer. Answers are pre-serialised JSON, so a query is a dict lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

import orjson
from sqlalchemy import select

from services.blocking.models import Block
from shared.memory import set_aside_for_collector
from shared.nats_permissions import OWN_EVENT_FEEDS

log = logging.getLogger("sbt.blocking.index")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class BlockIndex:
    def __init__(self) -> None:
        self._blocks: dict[str, dict[str, dict]] = {}  # nip -> block_id -> block
        self._answers: dict[str, bytes] = {}
        # Writes of this process per NIP (put/remove), so that a database read begun before one of them
        # committed cannot undo it (see replace).
        self._writes: dict[str, int] = {}
        self.ready = False

    def put(self, *, block_id: str, nip: str, case_id: str | None, agency_code: str | None, cause: str,
            reason: str, since: str) -> None:
        self._blocks.setdefault(nip, {})[block_id] = {
            "block_id": block_id, "case_id": case_id, "agency_code": agency_code, "cause": cause,
            "reason": reason, "since": since,
        }
        self._answers.pop(nip, None)
        self._writes[nip] = self._writes.get(nip, 0) + 1

    def remove(self, *, block_id: str, nip: str) -> None:
        self._writes[nip] = self._writes.get(nip, 0) + 1
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

    def writes_to(self, nip: str) -> int:
        return self._writes.get(nip, 0)

    def replace(self, nip: str, blocks: list[Block], *, unless_written_since: int | None = None) -> None:
        """Make the NIP's entry exactly ``blocks``, its active blocks as just read from the database.

        ``unless_written_since``: the NIP's ``writes_to`` when the read began. If this process has put or
        removed one of its blocks since, the read may predate that commit, so it is not applied; the write's
        own event, published after its commit, brings the NIP back to be read again.
        """
        if unless_written_since is not None and self.writes_to(nip) != unless_written_since:
            return
        fresh = BlockIndex()
        for block in blocks:
            fresh.put_row(block)
        if nip in fresh._blocks:
            self._blocks[nip] = fresh._blocks[nip]
        else:
            self._blocks.pop(nip, None)
        self._answers.pop(nip, None)

    def load(self, blocks: list[Block]) -> None:
        fresh = BlockIndex()
        for block in blocks:
            fresh.put_row(block)
        self._blocks, self._answers, self._writes = fresh._blocks, {}, {}
        self.ready = True
        set_aside_for_collector()  # the blocks just loaded live as long as the process


FEED_SUBJECT = OWN_EVENT_FEEDS["blocking"][0]  # sbt.events.blocking.personnel.>: blocks and unblocks
_REFRESH_CHUNK = 500  # NIPs per query, far below any database's limit on bound parameters


async def keep_current(runtime, index: BlockIndex) -> None:  # noqa: ANN001 - the blocking Runtime
    """Keep ``index`` equal to the database's active blocks, for as long as the service runs.

    Each round subscribes to the block and unblock subjects first, then loads the database, then re-reads
    each NIP an event names, a batch of NIPs per query: a change committed by any replica before the load is
    in the load, and one committed after it is followed by its event (the outbox relay publishes only what
    committed), so its NIP is read again after the commit. A reconnection to NATS may have dropped events,
    and a failed query leaves NIPs unread, so either starts a new round.
    """
    runtime.extensions["block_index"] = index
    while True:
        if not runtime.bus.connected:
            await asyncio.sleep(0.2)
            continue
        connection = runtime.bus.nc
        reconnects = connection.stats["reconnects"]
        try:
            feed = await _Feed.subscribe(connection)
        except Exception as error:  # noqa: BLE001 - NATS may still be starting
            log.warning("block index: subscribing failed (%s); retrying", error)
            await asyncio.sleep(0.5)
            continue
        try:
            async with runtime.sessions() as session:
                index.load(list(await session.scalars(select(Block).where(Block.lifted_at.is_(None)))))
            while runtime.bus.nc is connection and connection.stats["reconnects"] == reconnects:
                if await feed.wait(0.5):
                    await _refresh(runtime, index, feed.take())
            log.info("block index: NATS reconnected; reloading")
        except Exception:  # noqa: BLE001 - the database may be restarting; the next round reloads
            log.exception("block index: reading the database failed; reloading")
            await asyncio.sleep(0.5)
        finally:
            await feed.close()


async def _refresh(runtime, index: BlockIndex, nips: set[str]) -> None:  # noqa: ANN001
    """Make each of ``nips`` in the index what the database has now."""
    ordered = sorted(nips)
    for start in range(0, len(ordered), _REFRESH_CHUNK):
        chunk = ordered[start:start + _REFRESH_CHUNK]
        written = {nip: index.writes_to(nip) for nip in chunk}
        async with runtime.sessions() as session:
            rows = await session.scalars(select(Block).where(Block.nip.in_(chunk), Block.lifted_at.is_(None)))
            found: dict[str, list[Block]] = {}
            for block in rows:
                found.setdefault(block.nip, []).append(block)
        for nip in chunk:
            index.replace(nip, found.get(nip, []), unless_written_since=written[nip])


class _Feed:
    """A core-NATS subscription to the service's own block and unblock events, used only to learn which NIPs
    changed. The message's contents are never applied: anyone able to publish there (an operator, or a
    forger with a valid hash and a made-up sequence) can only make the index read the database again."""

    def __init__(self) -> None:
        self.nips: set[str] = set()
        self.arrived = asyncio.Event()
        self.subscription = None

    @classmethod
    async def subscribe(cls, connection) -> _Feed:  # noqa: ANN001 - a nats.py Client
        feed = cls()
        feed.subscription = await connection.subscribe(FEED_SUBJECT, cb=feed.on_message)
        return feed

    async def on_message(self, msg) -> None:  # noqa: ANN001
        nip = _nip_of(msg.data)
        if nip is not None:
            self.nips.add(nip)
            self.arrived.set()

    async def wait(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.arrived.wait(), timeout)
        return self.arrived.is_set()

    def take(self) -> set[str]:
        nips, self.nips = self.nips, set()
        self.arrived.clear()
        return nips

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.subscription.unsubscribe(), timeout=1)


def _nip_of(payload: bytes) -> str | None:
    """The NIP a block or unblock event names, if it looks like one; nothing else of the event is used."""
    try:
        nip = orjson.loads(payload)["data"]["nip"]
    except Exception:  # noqa: BLE001 - not an event: nothing to re-read
        return None
    return nip if isinstance(nip, str) and len(nip) == 18 and nip.isascii() and nip.isdigit() else None
