"""A rich progress bar showing step, loss and tokens/s; silent on non-zero ranks."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def progress_bar(total: int, description: str, enabled: bool = True, start: int = 0):
    if not enabled:
        yield lambda **kw: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss [cyan]{task.fields[loss]}"), TextColumn("val [magenta]{task.fields[val]}"),
               TextColumn("{task.fields[tps]} tok/s"), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn(), TextColumn("[yellow]{task.fields[note]}")]
    with Progress(*columns, transient=False) as prog:
        task = prog.add_task(description, total=total, completed=start, loss="-", val="-", tps="-", note="")

        def update(step=None, loss=None, val=None, tps=None, note=None):
            fields = {} if note is None else {"note": note}
            if loss is not None:
                fields["loss"] = f"{loss:.3f}"
            if val is not None:
                fields["val"] = f"{val:.3f}"
            if tps is not None:
                fields["tps"] = f"{tps:,.0f}"
            prog.update(task, completed=step if step is not None else None, **fields)

        yield update
