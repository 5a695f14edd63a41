"""Languages of the pages people read: Bahasa Indonesia first, English by choice.

The words live in gettext catalogues (``locale/<lang>/LC_MESSAGES/messages.po``, checked in); the English
text is the msgid itself, so English needs no catalogue. The ``.mo`` files are build output: ``make
messages`` compiles them, and ``translations`` compiles a missing or stale one on first use, in memory when
the package folder is not writable, so a fresh clone after ``pip install -e .`` works as it is.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT = "id"
LANGUAGES = ("id", "en")


def choose(*wishes: str | None) -> str:
    """The first supported language among the wishes (query, then cookie), else Indonesian."""
    for wish in wishes:
        if wish and wish.lower() in LANGUAGES:
            return wish.lower()
    return DEFAULT


def _compiled(po: Path) -> bytes:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalog = read_po(source, locale=po.parent.parent.name, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def compile_catalogue(lang: str) -> bytes:
    """The .mo of ``lang``, (re)compiled from its .po when missing or older, and written beside it if we may."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        return mo.read_bytes()
    data = _compiled(po)
    try:
        mo.write_bytes(data)
    except OSError:  # an installed, read-only package: the compiled catalogue stays in memory
        pass
    return data


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang not in LANGUAGES or lang == "en":
        return gettext.NullTranslations()
    return gettext.GNUTranslations(io.BytesIO(compile_catalogue(lang)))


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translated later, where shown"
    """Marks a string for extraction without translating it here: it is translated when rendered."""
    return message
