"""The README's Python tour runs and prints what it says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no Python example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(README), "exec"), {})
    printed = out.getvalue()
    assert "voc07 0.7532467532467533" in printed  # 58/77
    assert "gradient check ok" in printed
    assert "AP 0.303 AP50 0.505 True" in printed  # image 1 matched (IoU 0.78), image 2 missed
