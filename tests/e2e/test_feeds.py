"""Scoped NATS feeds end to end: `sbt subscriber add` makes an agency system's login on the real server
(reloaded, not restarted); the login reads its own agency's events, each the producer-signed envelope
unchanged, and the server refuses it everything else."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import nats
import nats.errors
import nats.js.errors
import orjson
import pytest

from shared.events import Envelope
from shared.ledger.chain import authenticate
from tests.e2e.reports import report_body
from tests.harness import nats_auth, readme
from tests.harness.ports import eventually
from tests.harness.signing import fixed_producer_keys
from tests.harness.system import ROOT

pytestmark = pytest.mark.e2e

JABAR, BANDUNG = "PEMPROV-JABAR", "KOTA-BANDUNG"
REFUSED_WITHIN = 1.5


def _managed_nats_config(folder):  # noqa: ANN001, ANN202
    """The deployment's users, no anonymous access, and a pid file `sbt subscriber` reloads through."""
    config = nats_auth.write_test_config(folder, anonymous_as_ops=False)
    config.write_text(config.read_text() + f'pid_file: "{folder / "nats.pid"}"\n')
    return config


def sbt(system, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    folder = system.nats.config.parent
    env = {**system.env, "SBT_NATS_USER": "ops", "SBT_NATS_PASSWORD": system.nats_passwords["ops"],
           "SBT_NATS_AUTH_FILE": str(folder / "auth.conf"), "SBT_NATS_PID_FILE": str(folder / "nats.pid")}
    return subprocess.run([sys.executable, "-m", "services.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


async def _connect(login: dict, errors: list | None = None):  # noqa: ANN202
    async def on_error(error):  # noqa: ANN001
        if errors is not None:
            errors.append(str(error))

    return await nats.connect(login["servers"], user=login["user"], password=login["password"],
                              inbox_prefix=login["inbox_prefix"], error_cb=on_error, allow_reconnect=False,
                              max_reconnect_attempts=0, connect_timeout=2)


async def _read_feed(login: dict, wanted: int, timeout: float = 15) -> list[nats.aio.msg.Msg]:
    connection = await _connect(login)
    try:
        feed = await connection.jetstream(timeout=3).pull_subscribe_bind(durable=login["consumer"],
                                                                         stream=login["stream"])
        got: list = []

        async def enough() -> bool:
            try:
                batch = await feed.fetch(50, timeout=0.5)
            except (nats.errors.TimeoutError, TimeoutError):
                return len(got) >= wanted
            for msg in batch:
                await msg.ack()
            got.extend(batch)
            return len(got) >= wanted

        await eventually(enough, timeout, f"{wanted} feed messages")
        return got
    finally:
        await connection.close()


async def test_an_agency_feed_carries_exactly_its_own_signed_events_and_nothing_else_is_open_to_it(
        make_system, tmp_path):
    system = await make_system("intake", "notify", nats_config=_managed_nats_config(tmp_path / "nats-managed"))
    added = sbt(system, "subscriber", "add", "--agency", JABAR, "--json")
    assert added.returncode == 0, added.stderr
    login = json.loads(added.stdout)
    assert login["subjects"] == f"sbt.feeds.{JABAR}.>" and login["stream"] == "SBT_FEEDS"
    national = json.loads(sbt(system, "subscriber", "add", "--agency", "BKN", "--scope", "observer", "--json").stdout)
    assert national["subjects"] == "sbt.feeds.NATIONAL.>"

    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        own = (await client.post("/v1/reports", json=report_body(agency_code=JABAR))).json()
        other = (await client.post("/v1/reports", json=report_body(agency_code=BANDUNG))).json()

    messages = await _read_feed(login, 2)
    await asyncio.sleep(1)
    messages += await _read_feed(login, 0, timeout=2)  # nothing more comes: the other agency's case is not here
    envelopes = [Envelope.model_validate(orjson.loads(m.data)) for m in messages]
    assert {e.type for e in envelopes} == {"sbt.case.opened.v1", "sbt.report.received.v1"}
    assert {e.data["case_id"] for e in envelopes} == {own["case_id"]}
    for message, envelope in zip(messages, envelopes, strict=True):
        assert authenticate(envelope, fixed_producer_keys()) is None  # signed by its producer, unchanged
        assert message.subject == f"sbt.feeds.{JABAR}.intake.{envelope.type.removeprefix('sbt.')}"
    everything = [Envelope.model_validate(orjson.loads(m.data)) for m in await _read_feed(national, 4)]
    assert {e.data["case_id"] for e in everything} == {own["case_id"], other["case_id"]}

    # The README's feed reader, as a reader would run it, with a login of its own.
    reader_login = json.loads(sbt(system, "subscriber", "add", "--agency", JABAR, "--json").stdout)
    folder = tmp_path / "reader"
    folder.mkdir()
    (folder / "login.json").write_text(json.dumps(reader_login))
    readme.write_keys(folder)
    reader = readme.start(readme.python_block_after("A reader of the feed in 20 lines"), folder, system.env)
    printed: list[str] = []

    def pump() -> None:  # its lines as they come: it starts slowly on a loaded machine
        assert reader.stdout is not None
        for line in reader.stdout:
            printed.append(line)

    pumping = threading.Thread(target=pump, daemon=True)
    pumping.start()
    try:
        async def both_events() -> bool:
            return len("".join(printed).split()) >= 4

        await eventually(both_events, 60, "the README's feed reader printed both events")
        await asyncio.sleep(1)  # and nothing more comes
    finally:
        reader.terminate()
        reader.wait(10)
        pumping.join(10)
    output = "".join(printed)
    assert sorted(output.split()) == sorted(["sbt.case.opened.v1", own["case_id"], "sbt.report.received.v1",
                                             own["case_id"]]), output

    # Everything else is refused by the server itself.
    errors: list[str] = []
    connection = await _connect(login, errors)
    try:
        for subject in ("sbt.events.>", "sbt.feeds.>", f"sbt.feeds.{BANDUNG}.>", "_INBOX_notify.>"):
            await connection.subscribe(subject)
        await connection.flush()
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError, asyncio.TimeoutError)):
            await connection.jetstream(timeout=1).publish("sbt.events.intake.report.received.v1", b"{}")
        api = "$JS.API"
        forbidden = [
            (f"{api}.CONSUMER.CREATE.SBT_FEEDS.{login['consumer']}", orjson.dumps({"stream_name": "SBT_FEEDS", "config": {
                "name": login["consumer"], "durable_name": login["consumer"], "filter_subject": "sbt.feeds.>",
                "ack_policy": "explicit"}})),
            (f"{api}.CONSUMER.CREATE.SBT_FEEDS", b"{}"),
            (f"{api}.CONSUMER.DELETE.SBT_FEEDS.{login['consumer']}", b""),
            (f"{api}.CONSUMER.INFO.SBT_FEEDS.{national['consumer']}", b""),
            (f"{api}.CONSUMER.MSG.NEXT.SBT_FEEDS.{national['consumer']}", b'{"batch": 1}'),
            (f"{api}.CONSUMER.MSG.NEXT.SBT_EVENTS.status", b'{"batch": 1}'),
            (f"{api}.STREAM.MSG.GET.SBT_FEEDS", b'{"seq": 1}'), (f"{api}.DIRECT.GET.SBT_FEEDS", b'{"seq": 1}'),
            (f"{api}.STREAM.INFO.SBT_EVENTS", b""), (f"{api}.STREAM.NAMES", b"{}"), (f"{api}.INFO", b""),
        ]
        for subject, body in forbidden:
            with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError, asyncio.TimeoutError)):
                await connection.request(subject, body, timeout=REFUSED_WITHIN)

        async def refused() -> bool:
            return " ".join(errors).lower().count("permissions violation for subscription") >= 4

        await eventually(refused, 5, "every subscription refused")
        assert "permissions violation for publish" in " ".join(errors).lower()
    finally:
        await connection.close()

    # Its own consumer it may read: the consumer's info names the feed's filter, which it cannot change.
    connection = await _connect(login)
    try:
        info = await connection.jetstream(timeout=3).consumer_info("SBT_FEEDS", login["consumer"])
        assert info.config.filter_subject == f"sbt.feeds.{JABAR}.>"
    finally:
        await connection.close()

    listed = json.loads(sbt(system, "subscriber", "list", "--json").stdout)["subscribers"]
    assert {s["user"] for s in listed} == {login["user"], national["user"], reader_login["user"]}
    rotated = sbt(system, "subscriber", "rotate", login["user"], "--json")
    assert rotated.returncode == 0, rotated.stderr
    new_login = json.loads(rotated.stdout)
    with pytest.raises(Exception, match="(?i)authorization"):
        await _connect(login)  # the old password no longer works, without a restart of the server
    await (await _connect(new_login)).close()
    assert sbt(system, "subscriber", "revoke", login["user"]).returncode == 0
    with pytest.raises(Exception, match="(?i)authorization"):
        await _connect(new_login)
    assert system.nats.process.poll() is None  # the same server process throughout: reloaded, never restarted
    bad = sbt(system, "subscriber", "add", "--agency", JABAR, "--scope", "reporter")
    assert bad.returncode == 1 and "may not read a feed" in bad.stderr


async def test_a_regional_offices_feed_carries_its_regions_agencies_only_and_no_reporter(make_system, tmp_path):
    system = await make_system("intake", "notify", nats_config=_managed_nats_config(tmp_path / "nats-managed"))
    refused = sbt(system, "subscriber", "add", "--agency", "BKN", "--scope", "bkn_regional")
    assert refused.returncode != 0 and "not a BKN regional office" in refused.stderr
    added = sbt(system, "subscriber", "add", "--agency", "BKN", "--scope", "bkn_regional", "--office", "iii",
                "--json")
    assert added.returncode == 0, added.stderr
    login = json.loads(added.stdout)
    assert login["subjects"] == "sbt.feeds.KANREG-III.>" and login["role"] == "bkn_regional"

    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        region = [(await client.post("/v1/reports", json=report_body(agency_code=code))).json()["case_id"]
                  for code in (JABAR, BANDUNG)]  # both in Jawa Barat: Kanreg III
        elsewhere = (await client.post("/v1/reports", json=report_body(agency_code="PEMPROV-JATENG"))).json()

    messages = await _read_feed(login, 4)
    await asyncio.sleep(1)
    messages += await _read_feed(login, 0, timeout=2)  # nothing more: Jawa Tengah's case is Kanreg I's
    envelopes = [Envelope.model_validate(orjson.loads(m.data)) for m in messages]
    assert {e.data["case_id"] for e in envelopes} == set(region) and elsewhere["case_id"] not in region
    assert {e.type for e in envelopes} == {"sbt.case.opened.v1", "sbt.report.received.v1"}
    for message, envelope in zip(messages, envelopes, strict=True):
        assert authenticate(envelope, fixed_producer_keys()) is None
        assert b"Siti Rahmawati" not in message.data and b"siti@example.org" not in message.data
