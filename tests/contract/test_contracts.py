import jsonschema
import pytest
from fastapi.routing import APIRoute

from services.cli.contracts import event_schema, write_contracts
from services.registry import SERVICES, create_app
from shared.events import EVENT_MODELS
from services.cli.settings import SystemSettings


def test_checked_in_contracts_match_the_code():
    drift = write_contracts(check=True)
    assert drift == [], f"run `make contracts`: {drift}"


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_every_golden_example_validates_against_its_schema_and_model(event_type):
    model = EVENT_MODELS[event_type]
    assert model.examples, f"{event_type} has no golden example"
    for example in model.examples:
        jsonschema.validate(example, event_schema(event_type))
        model.model_validate(example)


def _api_routes(routes):
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # a router included with include_router
            yield from _api_routes(original.routes)
        elif isinstance(route, APIRoute):
            yield route


def _permissions(dependant):
    for dependency in dependant.dependencies:
        permission = getattr(dependency.call, "permission", None)
        if permission:
            yield permission
        yield from _permissions(dependency)


PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics"}
# The dashboard's sign-in form, sign-out and its script and style: they hold no data.
PUBLIC_DASHBOARD_PATHS = {"/dashboard/login", "/dashboard/logout", "/dashboard/static/{name}"}


def test_every_route_except_health_requires_a_permission(tmp_path):
    """Deny by default: a route with no permission dependency is a hole. The dashboard's pages are left
    out of the OpenAPI contract, not out of this."""
    checked, dashboard = 0, 0
    for service in SERVICES:
        app = create_app(service, SystemSettings(env="test", data_dir=tmp_path))
        for route in _api_routes(app.routes):
            if route.path in PUBLIC_PATHS | PUBLIC_DASHBOARD_PATHS:
                continue
            assert list(_permissions(route.dependant)), f"{service} {route.path} requires no permission"
            checked += 1
            dashboard += route.path.startswith("/dashboard")
    assert checked >= 3 and dashboard >= 4
