"""The NATS feeds: every event republished, unchanged (the producer-signed envelope as it arrived), on the
subjects of the feeds it belongs to (``sbt.feeds.<agency>.<producer>.<event>`` and the national
``sbt.feeds.NATIONAL...``), in a stream of their own (``SBT_FEEDS``) so the case-event stream keeps one copy
of each event. Agency systems read their feed through a durable consumer made for them by
``sbt subscriber add``; their NATS user may read that consumer and nothing else (shared/nats_permissions.py).

The handler stages what to send (``feed_outbox``) in the consumer's transaction; this relay publishes it in
staging order with ``Nats-Msg-Id`` = feed and event id, so a re-send after a crash is dropped by JetStream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats.errors
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError
from sqlalchemy import bindparam, delete, select, update

from services.notify import domain
from services.notify.models import FeedOutbox, StoredEvent
from shared.db import utcnow
from shared.service import Runtime

log = logging.getLogger("sbt.notify.feeds")

FEED_STREAM = "SBT_FEEDS"
BATCH = 500


def feed_stream_config(settings) -> StreamConfig:  # noqa: ANN001 - services.notify.settings.NotifySettings
    return StreamConfig(name=FEED_STREAM, subjects=[f"{domain.FEED_PREFIX}.>"], num_replicas=settings.stream_replicas,
                        duplicate_window=settings.duplicate_window_seconds)


async def ensure_feed_stream(js, settings) -> None:  # noqa: ANN001
    try:
        await js.stream_info(FEED_STREAM)
    except nats.js.errors.NotFoundError:
        try:
            await js.add_stream(feed_stream_config(settings))
        except BadRequestError as error:  # made by another process in the meantime
            if error.err_code != 10058:
                raise


class FeedRelay:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._wake = asyncio.Event()
        self._stream_ready = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            sent = 0
            try:
                sent = await self.send_batch()
            except Exception:  # noqa: BLE001 - NATS or the database may be restarting
                log.exception("notify: feed relay failed; retrying")
                self._stream_ready = False
                await asyncio.sleep(0.5)
            if sent:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.runtime.settings.relay_sweep_seconds)

    async def send_batch(self) -> int:
        bus = self.runtime.bus
        if bus is None or not bus.connected:
            return 0
        if not self._stream_ready:
            await ensure_feed_stream(bus.js, self.runtime.settings)
            self._stream_ready = True
        erased = await self.erase_retired(bus)
        async with self.runtime.sessions() as session:
            rows = (await session.execute(
                select(FeedOutbox.id, FeedOutbox.feed, FeedOutbox.event_id, FeedOutbox.nats_subject,
                       StoredEvent.envelope)
                .join(StoredEvent, StoredEvent.event_id == FeedOutbox.event_id)
                .where(FeedOutbox.sent_at.is_(None)).order_by(FeedOutbox.id).limit(BATCH)
            )).all()
        if not rows:
            return erased
        landed = await bus.publish_many_at([(row.nats_subject, row.envelope.encode(), f"{row.feed}:{row.event_id}")
                                            for row in rows])
        # Only the acknowledged prefix is marked sent, so the order on each feed holds after a failure.
        done = []
        for row, seq in zip(rows, landed, strict=True):
            if seq is None:
                break
            done.append({"row_id": row.id, "seq": seq})
        if done:
            table = FeedOutbox.__table__
            async with self.runtime.sessions.begin() as session:
                await session.execute(
                    update(table).where(table.c.id == bindparam("row_id"))
                    .values(sent_at=utcnow(), feed_seq=bindparam("seq")).execution_options(synchronize_session=False),
                    done,
                )
        return erased + len(done)

    async def erase_retired(self, bus) -> int:  # noqa: ANN001 - shared.bus.Bus
        """Delete from the feed stream every message of a retired case (services/notify/retirement.py), so
        that a subscriber who pulls its feed later does not receive it; then forget the message. A message
        already gone (erased before a crash, or aged out of the stream) is gone all the same."""
        async with self.runtime.sessions() as session:
            rows = (await session.execute(
                select(FeedOutbox.id, FeedOutbox.feed_seq).where(FeedOutbox.erase_requested_at.is_not(None))
                .order_by(FeedOutbox.id).limit(BATCH)
            )).all()
        erased = []
        for row in rows:
            if row.feed_seq is not None:
                try:
                    await bus.js.delete_msg(FEED_STREAM, row.feed_seq)
                except nats.js.errors.NotFoundError:
                    pass
            erased.append(row.id)
        if erased:
            async with self.runtime.sessions.begin() as session:
                await session.execute(delete(FeedOutbox).where(FeedOutbox.id.in_(erased)))
        return len(erased)
