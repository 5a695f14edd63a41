"""People's accounts, the pure rules: Argon2id passwords (and their rehash when the parameters change),
TOTP codes, the lockout, and the roles and fields an account may have."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from argon2 import PasswordHasher
from pydantic import ValidationError

from services.identity import passwords
from services.identity.schemas import UserIn

NOW = dt.datetime(2024, 11, 25, 3, 0, tzinfo=dt.UTC)
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_a_password_is_kept_as_an_argon2id_hash_and_checked_against_it():
    stored = passwords.hash_password("kata sandi yang panjang", FAST)
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password("kata sandi yang panjang", stored, FAST)
    assert not passwords.verify_password("kata sandi yang salah!", stored, FAST)
    assert not passwords.verify_password("kata sandi yang panjang", None)  # no such account: a dummy is checked
    assert not passwords.verify_password("x" * 1000, stored, FAST)
    assert not passwords.verify_password("anything", "not a hash", FAST)


def test_a_hash_made_with_other_parameters_needs_a_rehash():
    stored = passwords.hash_password("kata sandi yang panjang", FAST)
    assert not passwords.needs_rehash(stored, FAST)
    assert passwords.needs_rehash(stored, PasswordHasher(time_cost=2, memory_cost=8, parallelism=1))


@pytest.mark.parametrize(("password", "reason"), [
    ("short", "at least 12"), ("x" * 201, "at most 200"), (" leading space ok?", "spaces"), ("tab\tinside!!", "control"),
])
def test_weak_or_odd_passwords_are_refused(password, reason):
    with pytest.raises(passwords.PasswordRefused, match=reason):
        passwords.check_password(password)


def test_made_passwords_pass_the_rules():
    assert passwords.check_password(passwords.new_password())


def test_totp_accepts_the_current_code_and_its_neighbours_only():
    secret = passwords.new_totp_secret()
    totp = pyotp.TOTP(secret)
    assert passwords.verify_totp(secret, totp.at(NOW), NOW)
    assert passwords.verify_totp(secret, totp.at(NOW - dt.timedelta(seconds=30)), NOW)
    assert not passwords.verify_totp(secret, totp.at(NOW - dt.timedelta(seconds=120)), NOW)
    assert not passwords.verify_totp(secret, "12345", NOW) and not passwords.verify_totp(secret, "abcdef", NOW)
    uri = passwords.enrolment_uri(secret, "admin.bkn")
    assert uri.startswith("otpauth://totp/SBT:admin.bkn?") and f"secret={secret}" in uri


def test_admins_and_blockers_need_a_second_factor():
    assert passwords.totp_required(["admin"]) and passwords.totp_required(["blocker", "observer"])
    assert not passwords.totp_required(["ppk"]) and not passwords.totp_required(["observer", "verifier"])


def test_the_lockout_after_repeated_failures():
    lockout = passwords.Lockout(max_failures=3, seconds=900)
    failures, until = lockout.after_failure(0, NOW)
    assert (failures, until) == (1, None)
    failures, until = lockout.after_failure(failures, NOW)
    assert until is None
    failures, until = lockout.after_failure(failures, NOW)
    assert failures == 0 and until == NOW + dt.timedelta(minutes=15)
    assert lockout.locked(until, NOW + dt.timedelta(minutes=14))
    assert not lockout.locked(until, NOW + dt.timedelta(minutes=15)) and not lockout.locked(None, NOW)


def test_an_account_names_the_field_it_breaks():
    made = UserIn(username=" Siti.Rahma ", agency_code="BKN", roles=["observer"])
    assert made.username == "siti.rahma"
    for fields, field in (
        ({"username": "a", "agency_code": "BKN", "roles": ["observer"]}, "username"),
        ({"username": "ppk.jabar", "agency_code": "BKN", "roles": ["ppk"]}, "ppk_agency"),
        ({"username": "obs.bkn", "agency_code": "BKN", "roles": ["observer"], "ppk_agency": "BKN"}, "ppk_agency"),
        ({"username": "siasn", "agency_code": "BKN", "roles": ["personnel"]}, "roles"),
        ({"username": "obs.bkn", "agency_code": "BKN", "roles": ["observer"], "password": "short"}, "password"),
    ):
        with pytest.raises(ValidationError) as raised:
            UserIn(**fields)
        assert [error["loc"][0] for error in raised.value.errors()] == [field]
