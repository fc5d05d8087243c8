"""Errors meant for the user: one line naming the file or device and what to do.

Exit codes: 0 ok, 1 runtime failure, 2 bad input or usage. Anything else that escapes is a bug
and keeps its traceback.
"""

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_BAD_INPUT = 2


class UserError(Exception):
    """A problem with what the user gave us (file, device, option); exit code 2."""

    exit_code = EXIT_BAD_INPUT


class RuntimeFailure(UserError):
    """Something that worked stopped working (camera went away, disk full); exit code 1."""

    exit_code = EXIT_RUNTIME
