"""The NATS JetStream bus: connection, stream provisioning, publishing with de-duplication."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError

from shared.events.catalog import SUBJECT_PREFIX
from shared.nats_login import connect_options
from shared.settings import BusSettings

log = logging.getLogger("sbt.bus")


class Bus:
    """One NATS connection per service process, reconnecting for ever in the background."""

    def __init__(self, settings: BusSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self._options: dict[str, Any] = {}
        self._retry: asyncio.Task[Any] | None = None

    async def connect(self) -> None:
        # Each service logs in as its own user, replies coming to that user's own inbox prefix, so no
        # service can read another's consumer deliveries (shared/nats_permissions.py).
        options = connect_options(self.settings, self.name)
        options.update(
            name=f"sbt-{self.name}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            allow_reconnect=True,
            connect_timeout=2,
            error_cb=self._on_error,
        )
        self._options = options
        try:
            await self._connect_once()
        except Exception as error:  # noqa: BLE001
            # A service starts, and takes reports into its outbox, while NATS is down.
            log.warning("nats unreachable at start (%s); retrying in the background", error)
            self._retry = asyncio.create_task(self._connect_until_up(), name=f"{self.name}-nats-connect")

    async def _connect_once(self) -> None:
        nc = await nats.connect(**self._options)
        self.js = nc.jetstream(timeout=5)
        self.nc = nc

    async def _connect_until_up(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                await self._connect_once()
                log.info("nats connected")
                return
            except Exception:  # noqa: BLE001
                continue

    async def _on_error(self, error: Exception) -> None:
        log.warning("nats error: %s", error)

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def ensure_stream(self) -> None:
        """Create the case-event stream if it is missing (every service may; the config is the same)."""
        assert self.js is not None
        config = StreamConfig(
            name=self.settings.stream_name,
            subjects=[f"{SUBJECT_PREFIX}.>"],
            num_replicas=self.settings.stream_replicas,
            duplicate_window=self.settings.duplicate_window_seconds,
        )
        try:
            await self.js.stream_info(self.settings.stream_name)
        except nats.js.errors.NotFoundError:
            try:
                await self.js.add_stream(config)
            except BadRequestError as error:  # another service created it in the meantime
                if error.err_code != 10058:
                    raise

    @property
    def jetstream(self) -> JetStreamContext:
        """The JetStream context of a connected bus."""
        if self.js is None:
            raise ConnectionError("the bus is not connected")
        return self.js

    async def publish_many(self, messages: Sequence[tuple[Any, ...]]) -> list[bool]:
        """Publish (subject, payload, msg id[, extra headers]) with all acks in flight at once; True where acked.

        ``Nats-Msg-Id`` is the event id, so JetStream drops a re-send within the duplicate window.
        """
        return [seq is not None for seq in await self.publish_many_at(messages)]

    async def publish_many_at(self, messages: Sequence[tuple[Any, ...]]) -> list[int | None]:
        """As ``publish_many``, with the stream sequence each message was stored at (None where not acked)."""
        assert self.js is not None
        tasks = [
            self.js.publish(subject, payload, headers={**(extra[0] if extra else {}), "Nats-Msg-Id": msg_id})
            for subject, payload, msg_id, *extra in messages
        ]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return [None if isinstance(result, BaseException) else int(result.seq) for result in results]

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.drain(), timeout=1)
            except Exception:  # noqa: BLE001 - closing anyway
                await self.nc.close()
