"""Webhook secrets and signatures (Standard Webhooks, with its library).

A secret is ``whsec_`` and 32 random bytes in base64, answered once when a subscription is made or its
secret rotated. Signing needs the secret itself, so it is kept sealed under the master key (a data key per
secret, shared/crypto.py), bound to its subscription. During a rotation's overlap both secrets sign each
delivery: ``webhook-signature`` carries both, and a receiver holding either verifies.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from standardwebhooks.webhooks import Webhook

from shared.crypto import Keyring, open_sealed, seal

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _context(subscription_id: str) -> str:
    return f"webhook-secret:{subscription_id}"


def seal_secret(keyring: Keyring, subscription_id: str, secret: str) -> str:
    data_key, wrapped = keyring.new_data_key(_context(subscription_id))
    return f"{wrapped}~{seal(data_key, secret.encode(), _context(subscription_id))}"


def open_secret(keyring: Keyring, subscription_id: str, sealed: str) -> str:
    wrapped, _, value = sealed.partition("~")
    data_key = keyring.unwrap(wrapped, _context(subscription_id))
    return open_sealed(data_key, value, _context(subscription_id)).decode()


def headers(message_id: str, body: str, secrets_in_force: list[str], at: dt.datetime) -> dict[str, str]:
    """The three Standard Webhooks headers; one ``v1,`` signature per secret in force."""
    moment = at.astimezone(dt.UTC).replace(tzinfo=None)  # the library reads a naive time as UTC
    signatures = [Webhook(secret).sign(message_id, moment, body) for secret in secrets_in_force]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
