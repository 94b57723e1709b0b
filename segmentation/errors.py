"""User-facing errors.

Anything a user can fix (a file, a row, a column, a value, a busy database)
is raised as a :class:`WorkbenchError` with a one-line message that names the
thing to fix. The command line prints the message and exits non-zero; the app
shows it. Programming errors stay ordinary exceptions.
"""

import re

__all__ = ["WorkbenchError", "StoreBusyError", "InputError", "NotFoundError", "ConflictError", "redact"]


class WorkbenchError(Exception):
    """An error whose message is meant for the user (no traceback needed)."""

    exit_code = 1


class StoreBusyError(WorkbenchError):
    """The database file is locked by another process for longer than we wait."""

    exit_code = 3


class InputError(WorkbenchError):
    """Bad input file, column, row or value; nothing was changed."""

    exit_code = 2


class NotFoundError(WorkbenchError):
    """A run, segment or file that the user named does not exist."""

    exit_code = 4


class ConflictError(WorkbenchError):
    """Someone else changed the same thing (e.g. a segment's name) while it was being edited."""

    exit_code = 1


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_EMAIL = re.compile(r"[^\s@'\"<>(),;:]+@[^\s@'\"<>(),;:]+\.[^\s@'\"<>(),;:]{2,}")
_PHONE = re.compile(r"[+(]?\d[\d\s().\-/]{6,}\d")


def _phone_or_keep(match: re.Match) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    looks_like_phone = digits >= 8 and (text[0] in "+(0" or digits >= 10) and not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2})?", text)
    return "[number]" if looks_like_phone else text


def masked_value(value: str) -> str:
    """A value a message quotes from a file, ``[e-mail]`` when it holds an e-mail address and ``[number]``
    when it looks like a phone number (a customer id that is an e-mail address, a phone in an events file):
    the messages of bad rows name the rows, so the value itself is not needed to find them."""
    return _PHONE.sub(_phone_or_keep, _EMAIL.sub("[e-mail]", value))


def redact(text: str) -> str:
    """``text`` without values that may be personal data: quoted values become ``'…'``,
    e-mail addresses ``[e-mail]`` and phone-like numbers ``[number]``.

    For messages whose content we do not control (unexpected errors from libraries,
    which quote the offending value); our own messages never hold PII to begin with.
    """
    text = _QUOTED.sub("'…'", text)
    text = _EMAIL.sub("[e-mail]", text)
    return _PHONE.sub(_phone_or_keep, text)
