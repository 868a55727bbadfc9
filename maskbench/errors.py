"""The one error type users see: a single line naming the problem and the fix (no traceback)."""


class MaskbenchError(Exception):
    """A user-facing error. The message is one line: what is wrong, then how to fix it."""


class RunInterrupted(MaskbenchError):
    """Ctrl-C / SIGTERM stopped a run after saving a checkpoint; it travels typed to the CLI boundary,
    so a sweep or compare can say what to re-run without parsing the message."""

    def __init__(self, step: int, run_dir, hint: str = ""):
        self.step, self.run_dir = step, run_dir
        super().__init__(hint or f"interrupted at step {step}; checkpoint saved. Continue with the same command "
                                 f"plus train.resume=true (run folder {run_dir})")


class InUse(MaskbenchError):
    """Another process holds the folder's lock (maskbench/files.py): a parallel sweep job may be training the
    same shared run right now."""


class FinetunePreset(MaskbenchError):
    """An experiment preset that sets a task was given to a pretraining command."""


def safe_reason(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message, to quote inside one of ours (its type when it has none).
    torch's refusal of a pickle advises loading with weights_only=False, which runs whatever code the file
    holds: that advice is never passed on."""
    text = str(exc).strip()
    if "weights_only" in text or "Weights only load failed" in text:
        return "torch refused objects other than tensors in the file (nothing in it was run)"
    first = text.splitlines()[0] if text else type(exc).__name__
    return first if len(first) <= limit else first[:limit] + "…"
