"""The notify service's pure rules: where an event belongs and who receives it, the retry schedule, and
which webhook targets are refused (no server-side request forgery)."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from services.notify import domain, targets
from shared.authz import EVERY_AGENCY, AgencyScope
from services.notify.settings import NotifySettings

NOW = dt.datetime(2024, 11, 5, tzinfo=dt.UTC)
JABAR = domain.Route("PEMPROV-JABAR", "PILKADA-2024", "JAWA BARAT", "case-1")
PPK, OBSERVER, EXAMINER = ["ppk"], ["observer"], ["examiner"]


def test_a_ppks_scope_admits_only_its_agencys_events_and_filters_narrow_further():
    own = AgencyScope.of("PEMPROV-JABAR")
    assert domain.matches(own, PPK, domain.Filters(), "sbt.case.opened.v1", JABAR)
    assert not domain.matches(AgencyScope.of("PEMKOT-BANDUNG"), PPK, domain.Filters(), "sbt.case.opened.v1", JABAR)
    assert not domain.matches(own, PPK, domain.Filters(), "sbt.agency.registered.v1", domain.Route(None, None, None, "x"))
    assert domain.matches(EVERY_AGENCY, OBSERVER, domain.Filters(), "sbt.agency.registered.v1", domain.Route(None, None, None, "x"))
    assert not domain.matches(own, PPK, domain.Filters(event_types=["sbt.report.received.v1"]), "sbt.case.opened.v1", JABAR)
    assert domain.matches(own, PPK, domain.Filters(provinces=["jawa barat"]), "sbt.case.opened.v1", JABAR)
    assert not domain.matches(own, PPK, domain.Filters(election_codes=["PEMILU-2024"]), "sbt.case.opened.v1", JABAR)
    assert not domain.matches(EVERY_AGENCY, OBSERVER, domain.Filters(agency_codes=["PEMKOT-BANDUNG"]), "sbt.case.opened.v1", JABAR)


def test_a_subscriber_receives_only_the_event_types_its_roles_may_read():
    escalation = "sbt.escalation.raised.v1"
    assert domain.matches(EVERY_AGENCY, OBSERVER, domain.Filters(), escalation, JABAR)
    assert not domain.matches(EVERY_AGENCY, EXAMINER, domain.Filters(), escalation, JABAR)  # no escalation:read
    assert not domain.matches(AgencyScope.of("PEMPROV-JABAR"), PPK, domain.Filters(), escalation, JABAR)
    assert domain.matches(EVERY_AGENCY, EXAMINER, domain.Filters(), "sbt.recommendation.issued.v1", JABAR)


def test_an_event_goes_on_its_agencys_feed_and_the_national_one_under_its_own_subject():
    # Jawa Barat's agencies are overseen by Kanreg III: its feed carries their events too.
    assert domain.feeds_for(JABAR, "sbt.case.opened.v1") == ["PEMPROV-JABAR", "KANREG-III", "NATIONAL"]
    assert domain.feeds_for(JABAR, "sbt.escalation.raised.v1") == ["NATIONAL"]  # a PPK may not read it
    assert domain.feeds_for(domain.Route(None, None, None, "x"), "sbt.agency.registered.v1") == ["NATIONAL"]
    assert domain.feed_subject("PEMPROV-JABAR", "sbt.events.intake.case.opened.v1") == \
        "sbt.feeds.PEMPROV-JABAR.intake.case.opened.v1"
    assert not domain.valid_feed_name("A.B") and not domain.valid_feed_name("*") and domain.valid_feed_name("BKN")


def test_the_retry_schedule_waits_each_entry_plus_at_most_its_jitter_and_then_gives_up():
    schedule = NotifySettings(webhook_retry_schedule="0,5,300").webhook_retry_delays
    assert schedule == [0, 5, 300]
    rng = random.Random(1)
    waits = [(domain.next_attempt(NOW, n, schedule, 0.1, rng) - NOW).total_seconds() for n in range(3)]
    assert waits[0] == 0 and 5 <= waits[1] <= 5.5 and 300 <= waits[2] <= 330
    assert domain.next_attempt(NOW, 3, schedule, 0.1) is None
    assert NotifySettings().webhook_retry_delays == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    with pytest.raises(ValueError, match="SBT_WEBHOOK_RETRY_SCHEDULE"):
        NotifySettings(webhook_retry_schedule="0,soon")


def test_an_endpoint_failing_for_the_whole_window_is_disabled():
    assert domain.should_disable(NOW - dt.timedelta(days=5), NOW, 5 * 86400)
    assert not domain.should_disable(NOW - dt.timedelta(days=4, hours=23), NOW, 5 * 86400)
    assert not domain.should_disable(None, NOW, 5 * 86400)


def test_the_national_feed_is_only_for_roles_that_may_read_every_event_type():
    from services.notify.subscribers import SubscriberError, feed_of

    assert feed_of("PEMPROV-JABAR", "ppk") == "PEMPROV-JABAR"
    assert feed_of("BKN", "observer") == "NATIONAL"
    assert feed_of("BKN", "bkn_regional", "III") == "KANREG-III"  # a regional office: its region's feed
    for office in (None, "XV"):
        with pytest.raises(SubscriberError, match="not a BKN regional office"):
            feed_of("BKN", "bkn_regional", office)
    with pytest.raises(SubscriberError, match="only for the role bkn_regional"):
        feed_of("PEMPROV-JABAR", "ppk", "III")
    with pytest.raises(SubscriberError, match="escalation:read"):
        feed_of("BKN", "examiner")
    with pytest.raises(SubscriberError, match="may not read a feed"):
        feed_of("SIASN", "personnel")


def test_state_changes_follow_the_table():
    assert domain.transition("active", "pause") == "paused"
    assert domain.transition("disabled", "resume") == "active"
    with pytest.raises(domain.NotAllowed):
        domain.transition("disabled", "pause")
    with pytest.raises(domain.NotAllowed):
        domain.transition("deleted", "resume")


NONE = targets.AllowList.parse("")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost:8080/", "http://10.0.0.5/", "http://172.16.3.4/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://100.100.100.200/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://[::]/", "http://224.0.0.1/",
])
async def test_private_loopback_link_local_and_metadata_addresses_are_refused(url):
    with pytest.raises(targets.TargetRefused):
        await targets.check(url, production=False, allow=NONE)


async def test_production_takes_https_only_and_no_credentials_in_the_url():
    with pytest.raises(targets.TargetRefused, match="https"):
        targets.parse("http://93.184.215.14/", production=True)
    with pytest.raises(targets.TargetRefused, match="user name"):
        targets.parse("https://a:b@93.184.215.14/", production=True)
    resolved = await targets.check("https://93.184.215.14:8443/hook?x=1", production=True, allow=NONE)
    assert resolved.url == "https://93.184.215.14:8443/hook?x=1" and resolved.host_header == "93.184.215.14:8443"


async def test_listed_hosts_and_networks_are_allowed_and_the_connection_goes_to_the_checked_address():
    allow = targets.AllowList.parse("127.0.0.1, ::1, 10.20.0.0/16, receiver.internal")
    resolved = await targets.check("http://127.0.0.1:9000/hook", production=False, allow=allow)
    assert resolved.url == "http://127.0.0.1:9000/hook"
    assert (await targets.check("http://10.20.1.2/", production=False, allow=allow)).address.exploded == "10.20.1.2"
    with pytest.raises(targets.TargetRefused):
        await targets.check("http://10.21.1.2/", production=False, allow=allow)
    # A name that resolves to loopback: refused unless the name or its address is listed.
    assert (await targets.check("http://localhost:9000/", production=False, allow=allow)).address.is_loopback
    with pytest.raises(targets.TargetRefused, match="loopback"):
        await targets.check("http://localhost:9000/", production=False, allow=NONE)


async def test_the_target_is_checked_again_at_delivery_time_and_a_refused_one_is_never_contacted(tmp_path):
    """A subscription accepted earlier (its name then public, or the allow list since shortened) is checked
    before every attempt: refused, it is recorded as a failed attempt and no request leaves (a real receiver
    on loopback, which this dispatcher's allow list does not name, hears nothing)."""
    from types import SimpleNamespace

    from services.notify.dispatch import Dispatcher
    from services.notify.models import StoredEvent, Subscription
    from shared.clock import clock_from_settings
    from tests.harness.webhook_receiver import WebhookReceiver

    settings = NotifySettings(env="test", data_dir=tmp_path)
    dispatcher = Dispatcher(SimpleNamespace(settings=settings, clock=clock_from_settings(None)))
    with WebhookReceiver() as receiver:
        port = receiver.server.server_address[1]
        for url in (receiver.url, f"http://localhost:{port}/hook", "http://169.254.169.254/latest/meta-data/"):
            outcome = await dispatcher.send(Subscription(subscription_id="s", url=url),
                                            StoredEvent(event_id="e", envelope="{}"), NOW)
            assert not outcome.success and outcome.error.startswith("target refused"), url
        assert receiver.received == []


def test_the_embedded_nats_keeps_the_feed_logins_across_a_restart_of_make_run(tmp_path):
    """`sbt run` writes the embedded server's configuration on every start: with the feed logins that
    `sbt subscriber` left beside it (bcrypt hashes only), and the pid file `sbt subscriber` reloads through."""
    import json

    from services.notify.subscribers import SNAPSHOT
    from services.cli.runner import embedded_nats_config

    settings = NotifySettings(env="test", data_dir=tmp_path)
    (tmp_path / "nats").mkdir()
    login = {"user": "feed_pemprov_jabar_abc123", "password_hash": "$2b$11$" + "x" * 53, "consumer": "feed_pemprov_jabar_abc123"}
    (tmp_path / "nats" / SNAPSHOT).write_text(json.dumps([login]))
    config = embedded_nats_config(settings, "127.0.0.1", 4322)
    auth = (tmp_path / "nats" / "auth.conf").read_text()
    assert '"feed_pemprov_jabar_abc123"' in auth and json.dumps(login["password_hash"]) in auth
    assert "$JS.API.CONSUMER.MSG.NEXT.SBT_FEEDS.feed_pemprov_jabar_abc123" in auth
    assert "pid_file" in config.read_text()
