"""What every command shares: one error policy, one progress bar, safe output paths.

Error policy
    A user error (a bad option value, a malformed or unreadable input file, an output path that
    cannot be written) is one line on stderr, ``error: ...``, naming the option or the file, and exit
    code 2, with no traceback. The library reports such errors as ``ValueError`` or ``TypeError``
    (bad values, documented on each function) and the operating system as ``OSError``;
    :func:`library_errors` turns those into the one line. Anything else is a bug and keeps its
    traceback. Library warnings are shown as ``warning: ...`` lines.

Output paths
    Every output path is checked before the work starts (:func:`check_output_path`): its folder must
    exist, it must not be a folder, and it must not be one of the command's input files. Files are
    then written atomically (:mod:`handgrad._files`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from handgrad._files import same_file

__all__ = [
    "EXIT_USAGE",
    "check_distinct_outputs",
    "check_figure_path",
    "check_output_path",
    "fail",
    "library_errors",
    "progress",
    "read_input",
    "stderr_console",
]

EXIT_USAGE = 2
T = TypeVar("T")


def stderr_console() -> Console:
    """The console for errors, warnings and progress (stdout stays for results)."""
    return Console(stderr=True)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def fail(message: str) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with code 2."""
    stderr_console().print(
        f"[red]error:[/red] {escape(_one_line(message))}", highlight=False, soft_wrap=True
    )
    raise typer.Exit(code=EXIT_USAGE)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {os.fsdecode(exc.filename)!s}" if exc.filename is not None else ""
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__


@contextmanager
def library_errors() -> Iterator[None]:
    """Turn the library's ``ValueError``/``TypeError`` and any ``OSError`` into :func:`fail`.

    Warnings raised inside are collected and shown as ``warning: ...`` lines on stderr.
    """
    err = stderr_console()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except (ValueError, TypeError, OSError) as exc:
            fail(_describe(exc))
        finally:
            for w in caught:
                err.print(
                    f"[yellow]warning:[/yellow] {escape(_one_line(str(w.message)))}",
                    highlight=False,
                    soft_wrap=True,
                )


def read_input(load: Callable[[Path], T], path: Path, role: str) -> T:
    """``load(path)``, with every error of reading or validating the file naming it.

    ``ValueError``/``TypeError`` messages that do not name the file already are prefixed with
    ``role`` and the path; a file that is not UTF-8 text or whose JSON nests too deeply for Python's
    parser becomes such a ``ValueError`` too.
    """
    where = f"{role} {str(path)!r}"
    try:
        return load(path)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except RecursionError:
        raise ValueError(f"{where} nests JSON arrays or objects too deeply to read") from None
    except (ValueError, TypeError) as exc:
        if str(path) in str(exc):
            raise
        raise type(exc)(f"{where}: {exc}") from None


def check_output_path(
    path: Path | None, option: str, inputs: Mapping[str, Path] | None = None
) -> None:
    """Refuse, before any work, an output path that cannot be written or would overwrite an input.

    Raises ``ValueError`` naming ``option`` when the path is a folder, its folder is missing or is
    not writable, or it is the same file as one of ``inputs`` (by resolved path or inode).
    """
    if path is None:
        return
    shown = str(path)
    if path.is_dir():
        raise ValueError(f"{option}: {shown!r} is a folder; give a file path")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{option}: the folder {str(folder)!r} of {shown!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{option}: cannot write in the folder {str(folder)!r}")
    for role, source in (inputs or {}).items():
        if same_file(path, source):
            raise ValueError(
                f"{option}: {shown!r} is the {role} file; writing there would destroy it, "
                "choose another path"
            )


def check_figure_path(path: Path | None, option: str) -> str | None:
    """Check a figure's output path (see :func:`check_output_path`) and return its format.

    The format is the file's suffix, which must be one matplotlib writes (png, svg, pdf, ...).
    """
    if path is None:
        return None
    check_output_path(path, option)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    formats = sorted(FigureCanvasAgg.get_supported_filetypes())
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in formats:
        raise ValueError(
            f"{option}: cannot tell the figure format from {str(path)!r}; "
            f"end the name with one of .{', .'.join(formats)}"
        )
    return fmt


def check_distinct_outputs(outputs: Mapping[str, Path | None]) -> None:
    """Refuse two output options that name one file (the second write would replace the first)."""
    given = [(option, path) for option, path in outputs.items() if path is not None]
    for i, (a_option, a_path) in enumerate(given):
        for b_option, b_path in given[i + 1 :]:
            if same_file(a_path, b_path):
                raise ValueError(f"{a_option} and {b_option} name the same file {str(a_path)!r}")


def progress(console: Console | None = None) -> Progress:
    """A rich progress bar on stderr with elapsed time and ETA; it draws nothing off a terminal."""
    console = console or stderr_console()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
