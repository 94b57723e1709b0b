"""User-facing errors.

Anything a user can fix (a file, a row, a column, a value, a busy database)
is raised as a :class:`WorkbenchError` with a one-line message that names the
thing to fix. The command line prints the message and exits non-zero; the app
shows it. Programming errors stay ordinary exceptions.
"""

__all__ = ["WorkbenchError", "StoreBusyError", "InputError", "NotFoundError"]


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
