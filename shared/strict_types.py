"""Strict types for what arrives at a door: a date is text in ISO form, a number is a number, a yes/no is
a boolean. Pydantic's lax mode would take ``0`` (or ``"0.0"`` in a query) as 1 January 1970, ``"5"`` as
five and ``1`` as true; stored, such a value looks real and is wrong. Every request body and query
parameter of every service uses these types instead."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BeforeValidator, StrictBool, StrictInt

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_date(value: object) -> dt.date:
    """A calendar date written YYYY-MM-DD (or already a ``date``); nothing else is taken for one."""
    if isinstance(value, dt.datetime):
        raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a real calendar date (YYYY-MM-DD)") from None


IsoDate = Annotated[dt.date, BeforeValidator(iso_date)]

__all__ = ["IsoDate", "StrictBool", "StrictInt", "iso_date"]
