"""The exception types the CLI turns into a one-line message (no traceback)."""


class MicromelError(Exception):
    """A user-facing error: the message names the file or option and what to do."""


class DeviceError(MicromelError):
    """A device (board, emulator, link) failed or refused a request."""


class DeviceTimeout(DeviceError):
    """A device did not answer in time."""
