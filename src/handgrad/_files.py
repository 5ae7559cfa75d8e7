"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

Every file handgrad writes (the CLI's reports and JSON, the experiment runner's output folder) goes
through :func:`atomic_write`: the content is written to a temporary file in the target's folder,
flushed and ``fsync``-ed, then renamed over the target (``os.replace``, atomic on POSIX and
Windows within one file system). When anything fails on the way (disk full, a file-size limit, an
exception in the caller's code), the temporary file is removed and the old target, if any, is
left untouched.

The new file gets the old file's permission bits when it replaces one, and otherwise the default
``0o666`` less the process umask, as ``open(path, "w")`` would give.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "same_file", "write_atomic"]


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_write(path: str | os.PathLike[str], *, binary: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit, make it ``path`` atomically.

    Parameters
    ----------
    path : str or path-like
        The file to create or replace. Its folder must exist.
    binary : bool
        Open the temporary file in binary mode (default: text, UTF-8).

    Yields
    ------
    file object
        Write the whole content to it; do not close it.

    Raises
    ------
    OSError
        When the folder does not exist or is not writable, or the write or rename fails; the
        target is then unchanged and no temporary file is left behind.
    """
    target = Path(path)
    mode = stat.S_IMODE(target.stat().st_mode) if target.is_file() else _default_mode()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        encoding = None if binary else "utf-8"
        with os.fdopen(fd, "wb" if binary else "w", encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        with _ignore_missing():
            os.unlink(tmp_name)
        raise


@contextmanager
def _ignore_missing() -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        pass


def write_atomic(path: str | os.PathLike[str], content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` atomically; see :func:`atomic_write`."""
    with atomic_write(path, binary=isinstance(content, bytes)) as f:
        f.write(content)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when ``a`` and ``b`` name one file: the same resolved path, or the same inode."""
    pa, pb = Path(a), Path(b)
    if pa.resolve() == pb.resolve():
        return True
    try:
        return os.path.samefile(pa, pb)
    except OSError:  # one of them does not exist: then they are not one existing file
        return False
