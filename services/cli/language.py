"""The language of what the agency-facing commands print: Bahasa Indonesia by default, English by choice.

The same catalogue as the pages (shared/i18n): the English text is the msgid, the Indonesian its
translation. The choice is ``sbt --lang en|id``, else the first supported language named by the standard
``LANGUAGE`` or ``LANG`` environment (``en_US.UTF-8`` is English; ``C`` names none), else Indonesian.
"""

from __future__ import annotations

import os

from shared.i18n import choose, translations

_chosen: str | None = None


def choose_language(lang: str | None) -> None:
    """Set by the root command's ``--lang``; None leaves it to the environment."""
    global _chosen
    _chosen = choose(lang) if lang else None


def _from_environment() -> list[str]:
    wishes: list[str] = []
    for name in ("LANGUAGE", "LANG"):
        # LANGUAGE is a colon-separated list of preferences; LANG one locale such as en_US.UTF-8.
        for item in os.environ.get(name, "").split(":"):
            wishes.append(item.split(".")[0].split("_")[0].split("@")[0])
    return [wish for wish in wishes if wish]


def current() -> str:
    return _chosen or choose(*_from_environment())


def _(message: str) -> str:
    """``message`` (English) in the chosen language."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return translations(current()).ngettext(singular, plural, count)
