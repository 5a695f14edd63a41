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
        others = [other for other in service_users() if other != service]
        forbidden = ["$JS.API.STREAM.DELETE.SBT_EVENTS", "$JS.API.STREAM.PURGE.SBT_EVENTS",
                     "$JS.API.STREAM.UPDATE.SBT_EVENTS", "$JS.API.STREAM.MSG.GET.SBT_EVENTS",
                     "$JS.API.STREAM.MSG.DELETE.SBT_EVENTS", "$JS.API.DIRECT.GET.SBT_EVENTS",
                     "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST", "$JS.API.CONSUMER.NAMES.SBT_EVENTS",
                     "$JS.API.CONSUMER.LIST.SBT_EVENTS", "$JS.API.CONSUMER.CREATE.SBT_EVENTS",
                     f"$JS.API.CONSUMER.DELETE.SBT_EVENTS.{service}"]
        for name in [*others, "someone-else"]:
            forbidden += [f"$JS.API.CONSUMER.CREATE.SBT_EVENTS.{name}",
                          f"$JS.API.CONSUMER.CREATE.SBT_EVENTS.{name}.sbt.events.{service}.x",
                          f"$JS.API.CONSUMER.DURABLE.CREATE.SBT_EVENTS.{name}",
                          f"$JS.API.CONSUMER.INFO.SBT_EVENTS.{name}", f"$JS.API.CONSUMER.MSG.NEXT.SBT_EVENTS.{name}",
                          f"$JS.ACK.SBT_EVENTS.{name}.1.1.1.1.0"]
        for subject in forbidden:
            assert not any(_matches(p, subject) for p in allow), (service, subject)
        # No wildcard may stand where a consumer's name goes: it would match another service's consumer.
        for pattern in allow:
            if pattern.startswith(("$JS.API.CONSUMER.", "$JS.ACK.")):
                assert "*" not in pattern.split(".")[:6], (service, pattern)
        # Replies on its own inbox; beside them, at most its own events (a trigger for in-memory indexes).
        subscribe = permissions["subscribe"]["allow"]
        assert subscribe[0] == f"_INBOX_{service}.>"
        assert all(s.startswith(f"sbt.events.{service}.") for s in subscribe[1:]), (service, subscribe)


def test_passwords_are_environment_references_never_literals():
    text = render_auth_conf()
    for service in service_users():
        assert f"password: $SBT_NATS_PASSWORD_{service.upper()}" in text
