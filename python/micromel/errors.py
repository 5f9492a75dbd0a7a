"""The one exception type the CLI turns into a one-line message (no traceback)."""


class MicromelError(Exception):
    """A user-facing error: the message names the file or option and what to do."""
