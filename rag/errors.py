"""Errors caused by the user's input or set-up: shown as one line, never as a traceback."""


class UserError(Exception):
    pass
