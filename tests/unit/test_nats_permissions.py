"""The NATS permissions as data: each service publishes only its own events and owns only its consumer."""

from shared.events import EVENT_MODELS, nats_subject
from shared.nats_config import drifted
from shared.nats_permissions import render_auth_conf, service_permissions, service_users


def test_the_checked_in_nats_auth_configs_match_the_code():
    assert drifted() == [], "run `sbt nats-config` and commit deploy/nats/auth.conf and deploy/k8s/nats-auth.yaml"


def _matches(pattern: str, subject: str) -> bool:
    pattern_tokens, tokens = pattern.split("."), subject.split(".")
    for index, token in enumerate(pattern_tokens):
        if token == ">":
            return len(tokens) > index
        if index >= len(tokens) or (token != "*" and token != tokens[index]):
            return False
    return len(tokens) == len(pattern_tokens)


def test_each_service_may_publish_exactly_its_own_events():
    for service in service_users():
        allow = service_permissions(service, "SBT_EVENTS")["publish"]["allow"]
        for model in EVENT_MODELS.values():
            may = any(_matches(pattern, nats_subject(model)) for pattern in allow)
            assert may == (model.producer == service), (service, model.event_type)


def test_no_service_may_administer_the_stream_or_read_around_its_consumer():
    for service in service_users():
        permissions = service_permissions(service, "SBT_EVENTS")
        allow = permissions["publish"]["allow"]
        for forbidden in ("$JS.API.STREAM.DELETE.SBT_EVENTS", "$JS.API.STREAM.PURGE.SBT_EVENTS",
                          "$JS.API.STREAM.MSG.GET.SBT_EVENTS", "$JS.API.DIRECT.GET.SBT_EVENTS",
                          "$JS.API.CONSUMER.CREATE.SBT_EVENTS.someone-else",
                          "$JS.API.CONSUMER.MSG.NEXT.SBT_EVENTS.someone-else"):
            assert not any(_matches(p, forbidden) for p in allow), (service, forbidden)
        assert permissions["subscribe"]["allow"] == [f"_INBOX_{service}.>"]


def test_passwords_are_environment_references_never_literals():
    text = render_auth_conf()
    for service in service_users():
        assert f"password: $SBT_NATS_PASSWORD_{service.upper()}" in text
