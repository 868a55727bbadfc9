"""The one error type users see: a single line naming the problem and the fix (no traceback)."""


class MaskbenchError(Exception):
    """A user-facing error. The message is one line: what is wrong, then how to fix it."""
