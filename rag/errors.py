"""Errors caused by the user's input or set-up: shown as one line, never as a traceback."""


class UserError(Exception):
    pass


def first_line(error: Exception) -> str:
    """A library's exception as one line for a user message."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
