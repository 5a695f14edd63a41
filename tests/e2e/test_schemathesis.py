"""Hostile input against every service's own OpenAPI: schemathesis generates requests (valid and invalid)
for every operation; no answer may be a 5xx, and no documented answer may break its own schema.

Examples are bounded (``SBT_FUZZ_EXAMPLES``, default 15 per operation) so the whole run stays near a
minute; raise it for a deeper search."""

from __future__ import annotations

import asyncio
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from services.registry import SERVICES
from shared.authz import ROLES

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("SBT_FUZZ_EXAMPLES", "15"))


def _fuzz(base_url: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case) -> None:  # noqa: ANN001
            case.call_and_validate(base_url=base_url, headers=headers, timeout=10,
                                   checks=[not_a_server_error, response_schema_conformance])

        try:
            run()
        except Exception as error:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(error)[:1500]}")
    return operations, failures


async def test_no_generated_request_gets_a_5xx_or_an_answer_that_breaks_its_schema(make_system):
    system = await make_system(*SERVICES, extra_env={"SBT_PUBLIC_BURST": "100000"})
    # Every role at once, so requests get past authorisation into the code that parses and decides.
    token = system.token("BKN", *(role for role in ROLES if role != "public"), ppk_agency="BKN")
    headers = {"Authorization": f"Bearer {token}"}
    checked, failures = 0, []
    for service in SERVICES:
        operations, found = await asyncio.to_thread(_fuzz, system[service].url, headers)
        checked += operations
        failures += [f"{service} {failure}" for failure in found]
    assert checked >= 10
    assert not failures, "\n\n".join(failures)
    for service in SERVICES:
        assert "Traceback" not in system[service].log_text(), f"{service} logged a traceback"
