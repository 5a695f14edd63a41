import pytest

from shared.authz import PERMISSIONS, ROLES, allowed
from shared.settings import CoreSettings, ServiceSettings


def test_each_service_gets_a_database_of_its_own():
    assert CoreSettings(database_url="postgresql+asyncpg://u@h:5432/sbt").database_url_for("intake") == (
        "postgresql+asyncpg://u@h:5432/sbt_intake"
    )
    assert CoreSettings(database_url="postgresql+asyncpg://u@h/sbt_{service}?ssl=require").database_url_for("status") == (
        "postgresql+asyncpg://u@h/sbt_status?ssl=require"
    )
    assert CoreSettings(database_url=None).database_url_for("intake").endswith("/var/intake.db")


def test_production_refuses_to_start_without_configured_keys():
    with pytest.raises(ValueError, match="SBT_JWT_PUBLIC_KEYS"):
        ServiceSettings(env="production")


def test_permissions_name_only_known_roles_and_deny_unknown_permissions():
    for roles in PERMISSIONS.values():
        assert roles <= set(ROLES)
    assert not allowed("no:such-permission", set(ROLES))
    assert allowed("report:create", {"reporter"})
    assert not allowed("report:create", {"observer"})
