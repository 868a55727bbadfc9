"""What a command's ending looks like, whatever happens in it: its result, or one red line. A refused input
(`MaskbenchError`) is one line and exit 2; a usage error (a missing argument, `--step nan`) one line too; an
unwritable folder one line naming it; Ctrl-C exit 130; a closed output pipe a quiet exit 141; and anything else,
a bug, one `internal error` line naming its crash file, exit 70 (maskbench/crash.py), the traceback printed
only with MASKBENCH_DEBUG=1. cli.py runs every command body through `guard`.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup


class OneLineUsage(TyperGroup):
    """typer's usage errors (a missing argument, `--step nan`) as one red line with the command's help hint, like
    every other refusal, instead of a framed box."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer's own click

        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            try:
                fail(" ".join(exc.format_message().split()) + where, code=exc.exit_code)
            except typer.Exit as stop:
                sys.exit(stop.exit_code)
        except typer.Abort:
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def fail(msg: str, code: int = 2, head: str = "error:"):
    from rich.markup import escape

    msg = msg.encode("utf-8", "backslashreplace").decode("utf-8")  # a path or text with undecodable bytes
    console(stderr=True).print(f"[bold red]{head}[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code)


def guard(fn):
    """Run a command body: a MaskbenchError becomes one red line and exit 2; any other exception (a bug) one line
    naming its crash file and exit 70 (maskbench/crash.py); never a traceback unless MASKBENCH_DEBUG=1."""
    from maskbench.errors import MaskbenchError

    try:
        _check_utf8(_arguments())
        return fn()
    except MaskbenchError as exc:
        fail(str(exc))
    except BrokenPipeError:  # the reader went away (`maskbench config show | head`): stop quietly, as git does
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush at exit
        raise typer.Exit(141)
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise  # typer's own endings (an exit code, a usage error)
    except OSError as exc:  # an unwritable or vanished folder, a full disk: one line, what and where
        if _file_in_the_way(exc):  # -o FILE/x.png: mkdir's 'File exists' said nothing of the cause
            fail(f"cannot use {exc.filename}: a file is there where a folder is needed: choose a path whose "
                 f"folders are folders (run.dir, data.cache_dir, -o)")
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        fail(f"cannot use{where}: {exc.strerror or exc}: choose a folder you can write to (run.dir, "
              f"data.cache_dir, -o) or free space")
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except Exception as exc:
        _internal_error(exc)


def script(fn):
    """A script's body (benchmarks/, scripts/) with a command's ending: its result, or one line (a refusal exit 2,
    a bug the internal-error line naming its crash file, exit 70), as SystemExit rather than typer's Exit."""
    try:
        return guard(fn)
    except typer.Exit as stop:
        sys.exit(stop.exit_code)


def _file_in_the_way(exc: OSError) -> bool:
    """A folder was to be made or entered where a file is."""
    from pathlib import Path

    if not getattr(exc, "filename", None):
        return False
    if isinstance(exc, NotADirectoryError):
        return True
    return isinstance(exc, FileExistsError) and Path(str(exc.filename)).is_file()


def _arguments() -> list[str]:
    """The command's parsed arguments and options as text (lists flattened), in order."""
    from typer.main import get_current_context  # typer's own click (it vendors one)

    ctx = get_current_context(silent=True)
    values = list(ctx.params.values()) if ctx is not None else []
    return [str(v) for value in values for v in (value if isinstance(value, (list, tuple)) else [value])
            if v is not None]


def _check_utf8(args: list[str]) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates, which no tokenizer, JSON or YAML writer takes."""
    from maskbench.errors import MaskbenchError

    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as exc:
            byte = arg[exc.start].encode("utf-8", "surrogateescape")
            shown = arg[:exc.start].encode("utf-8", "backslashreplace").decode()[-30:]
            raise MaskbenchError(f"an argument holds a byte that is not UTF-8 (0x{byte.hex()} after '{shown}'): "
                                 f"give text and paths in UTF-8") from None


def _internal_error(exc: Exception):
    from maskbench import crash

    if crash.debug():
        raise exc
    from maskbench.data.cache_root import cache_root

    report = crash.write_report(exc, ["maskbench", *sys.argv[1:]], fallback=cache_root)
    head, _, rest = crash.summary_line(exc, report).partition(": ")
    fail(rest, code=crash.INTERNAL_EXIT, head=head + ":")
