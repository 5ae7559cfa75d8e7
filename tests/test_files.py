"""Atomic writes: the old file survives any failure, no temporary file is left behind."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from handgrad._files import atomic_write, same_file, write_atomic


def test_write_creates_and_replaces(tmp_path):
    target = tmp_path / "out.txt"
    write_atomic(target, "first")
    assert target.read_text() == "first"
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_an_exception_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old content")
    with pytest.raises(RuntimeError, match="half way"):
        with atomic_write(target) as f:
            f.write("new and partial")
            raise RuntimeError("half way")
    assert target.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_file_size_limit_leaves_the_old_file(tmp_path):
    # In a child process (the limit is per process): RLIMIT_FSIZE of 1 KiB and a 64 KiB write.
    target = tmp_path / "out.txt"
    target.write_text("old content")
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))\n"
        "from handgrad._files import write_atomic\n"
        "try:\n"
        f"    write_atomic({str(target)!r}, 'x' * 65536)\n"
        "except OSError as exc:\n"
        "    print('OSError', exc.errno)\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 3, done.stdout + done.stderr
    assert target.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    assert resource.RLIMIT_FSIZE  # the platform has the limit the child used


def test_a_missing_folder_is_an_oserror_and_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "out.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_permission_bits_are_kept_on_replace(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    write_atomic(target, "new")
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)


def test_a_new_file_gets_the_umask_default(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert oct((tmp_path / "new.txt").stat().st_mode & 0o777) == oct(0o644)


def test_same_file_by_path_and_by_inode(tmp_path):
    a = tmp_path / "a.json"
    a.write_text("{}")
    os.link(a, tmp_path / "hard.json")
    (tmp_path / "sym.json").symlink_to(a)
    assert same_file(a, tmp_path / "." / "a.json")
    assert same_file(a, tmp_path / "hard.json")
    assert same_file(a, tmp_path / "sym.json")
    assert not same_file(a, tmp_path / "other.json")
