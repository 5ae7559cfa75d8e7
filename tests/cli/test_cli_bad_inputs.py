"""Bad input to the real entry point: exit code 2, one line on stderr naming the option or file.

Each case runs ``python -m handgrad ...`` in a subprocess, in a folder holding valid COCO files
(``gt.json``, ``dt.json``) and a few broken ones, and asserts: exit code 2; nothing on stdout;
stderr is exactly one line, ``error: ...``, containing the option or file named in the case; no
traceback; and no file in the folder created, removed or changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.coco_synth import make_coco


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli-bad")
    gt, dets = make_coco(4, n_categories=2, dets_per_image=4, seed=7)
    (d / "gt.json").write_text(json.dumps(gt))
    (d / "dt.json").write_text(json.dumps(dets))
    os.link(d / "gt.json", d / "gt-hardlink.json")
    (d / "gt-symlink.json").symlink_to(d / "gt.json")
    (d / "sub").mkdir()
    (d / "not-json.json").write_text("{'single': 'quotes'}")
    (d / "latin1.json").write_bytes(b'{"images": [], "name": "caf\xe9"}')
    (d / "deep.json").write_text("[" * 100_000)
    (d / "empty.json").write_text("")
    (d / "list-gt.json").write_text("[]")

    def with_det(name: str, **fields: object) -> None:
        changed = [dict(det) for det in dets]
        changed[1].update(fields)
        (d / name).write_text(json.dumps(changed))

    with_det("neg-width.json", bbox=[1.0, 2.0, -3.0, 4.0])
    with_det("short-bbox.json", bbox=[1.0, 2.0, 3.0])
    with_det("nan-score.json", score=float("nan"))
    with_det("huge-category.json", category_id=2**70)
    with_det("unknown-image.json", image_id=987654)
    with_det("str-score.json", score="high")
    return d


def _snapshot(d: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(d)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(d.rglob("*"))
    }


# (id, arguments, what the one line must name)
CASES = [
    # solve: option values
    ("solve-seed-negative", ["solve", "--seed", "-1"], "--seed"),
    ("solve-seed-text", ["solve", "--seed", "abc"], "--seed"),
    ("solve-seed-float", ["solve", "--seed", "1.5"], "--seed"),
    ("solve-question-zero", ["solve", "--question", "0"], "--question"),
    ("solve-question-six", ["solve", "--question", "6"], "--question"),
    ("solve-question-text", ["solve", "-q", "two"], "-q"),
    ("solve-unknown-option", ["solve", "--colour"], "--colour"),
    ("solve-html-folder", ["solve", "--html", "sub"], "--html"),
    ("solve-html-missing-folder", ["solve", "--html", "nowhere/r.html"], "--html"),
    ("solve-html-no-value", ["solve", "--html"], "--html"),
    ("unknown-command", ["train"], "train"),
    # eval coco: input files
    ("coco-missing-gt", ["eval", "coco", "missing.json", "dt.json"], "missing.json"),
    ("coco-missing-dets", ["eval", "coco", "gt.json", "missing.json"], "missing.json"),
    ("coco-gt-is-folder", ["eval", "coco", "sub", "dt.json"], "sub"),
    ("coco-gt-not-json", ["eval", "coco", "not-json.json", "dt.json"], "not-json.json"),
    ("coco-gt-not-utf8", ["eval", "coco", "latin1.json", "dt.json"], "latin1.json"),
    ("coco-gt-too-deep", ["eval", "coco", "deep.json", "dt.json"], "deep.json"),
    ("coco-dets-too-deep", ["eval", "coco", "gt.json", "deep.json"], "deep.json"),
    ("coco-gt-empty-file", ["eval", "coco", "empty.json", "dt.json"], "empty.json"),
    ("coco-gt-a-list", ["eval", "coco", "list-gt.json", "dt.json"], "list-gt.json"),
    ("coco-negative-width", ["eval", "coco", "gt.json", "neg-width.json"], "detections[1]"),
    ("coco-short-bbox", ["eval", "coco", "gt.json", "short-bbox.json"], "detections[1]"),
    ("coco-nan-score", ["eval", "coco", "gt.json", "nan-score.json"], "detections[1]"),
    ("coco-huge-category", ["eval", "coco", "gt.json", "huge-category.json"], "detections[1]"),
    ("coco-unknown-image", ["eval", "coco", "gt.json", "unknown-image.json"], "987654"),
    ("coco-text-score", ["eval", "coco", "gt.json", "str-score.json"], "detections[1]"),
    ("coco-missing-argument", ["eval", "coco", "gt.json"], "'detections'"),
    # eval coco: the output path
    ("coco-json-is-gt", ["eval", "coco", "gt.json", "dt.json", "--json", "gt.json"], "--json"),
    ("coco-json-is-dets", ["eval", "coco", "gt.json", "dt.json", "--json", "dt.json"], "--json"),
    (
        "coco-json-is-gt-by-other-path",
        ["eval", "coco", "gt.json", "dt.json", "--json", "./sub/../gt.json"],
        "--json",
    ),
    (
        "coco-json-hardlink-to-gt",
        ["eval", "coco", "gt.json", "dt.json", "--json", "gt-hardlink.json"],
        "--json",
    ),
    (
        "coco-json-symlink-to-gt",
        ["eval", "coco", "gt.json", "dt.json", "--json", "gt-symlink.json"],
        "--json",
    ),
    ("coco-json-folder", ["eval", "coco", "gt.json", "dt.json", "--json", "sub"], "--json"),
    (
        "coco-json-missing-folder",
        ["eval", "coco", "gt.json", "dt.json", "--json", "nowhere/out.json"],
        "--json",
    ),
    # eval voc
    ("voc-method", ["eval", "voc", "gt.json", "dt.json", "--method", "voc10"], "method"),
    ("voc-iou-above-one", ["eval", "voc", "gt.json", "dt.json", "--iou", "2"], "iou"),
    ("voc-iou-zero", ["eval", "voc", "gt.json", "dt.json", "--iou", "0"], "iou"),
    ("voc-iou-text", ["eval", "voc", "gt.json", "dt.json", "--iou", "half"], "--iou"),
    ("voc-iou-nan", ["eval", "voc", "gt.json", "dt.json", "--iou", "nan"], "iou"),
    ("voc-box-format", ["eval", "voc", "gt.json", "dt.json", "--box-format", "ltrb"], "box_format"),
    ("voc-json-is-gt", ["eval", "voc", "gt.json", "dt.json", "--json", "gt.json"], "--json"),
    # experiment run (fast: every case fails before any training)
    ("exp-unknown", ["experiment", "run", "nothing"], "nothing"),
    ("exp-set-no-value", ["experiment", "run", "repeated-words", "--set", "steps"], "--set"),
    (
        "exp-set-unknown-key",
        ["experiment", "run", "repeated-words", "--set", "colour=red"],
        "colour",
    ),
    ("rw-lags-text", ["experiment", "run", "repeated-words", "--set", "lags=2,x"], "lags"),
    ("rw-lags-zero", ["experiment", "run", "repeated-words", "--set", "lags=0,5"], "lags"),
    ("rw-lags-repeated", ["experiment", "run", "repeated-words", "--set", "lags=5,5"], "lags"),
    ("rw-steps-zero", ["experiment", "run", "repeated-words", "--set", "steps=0"], "steps"),
    (
        "rw-hidden-negative",
        ["experiment", "run", "repeated-words", "--set", "hidden_size=-4"],
        "hidden_size",
    ),
    (
        "rw-cells-unknown",
        ["experiment", "run", "repeated-words", "--set", "cells=RNN,TCN"],
        "cells",
    ),
    (
        "rw-gate-bias-nan",
        ["experiment", "run", "repeated-words", "--set", "gate_bias=nan"],
        "gate_bias",
    ),
    ("exp-seed-negative", ["experiment", "run", "repeated-words", "--seed", "-1"], "seed"),
    ("exp-jobs-zero", ["experiment", "run", "repeated-words", "--jobs", "0"], "--jobs"),
    (
        "exp-checkpoint-every-zero",
        ["experiment", "run", "repeated-words", "--checkpoint-every", "0"],
        "--checkpoint-every",
    ),
    ("exp-out-exists", ["experiment", "run", "repeated-words", "--out", "sub"], "--out"),
    ("exp-resume-without-out", ["experiment", "run", "repeated-words", "--resume"], "--resume"),
    ("char-rnn-missing-text", ["experiment", "run", "char-rnn", "--set", "text=none.txt"], "text"),
    (
        "exp-no-scheduler",
        [
            "experiment",
            "run",
            "repeated-words",
            "--dask-scheduler",
            "tcp://127.0.0.1:1",
            "--dask-timeout",
            "2",
        ],
        "tcp://127.0.0.1:1",
    ),
]


@pytest.mark.parametrize(("args", "names"), [pytest.param(a, n, id=i) for i, a, n in CASES])
def test_user_error_is_one_line_exit_2_and_touches_no_file(folder, args, names):
    before = _snapshot(folder)
    done = subprocess.run(
        [sys.executable, "-m", "handgrad", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "80"},
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert names in lines[0], lines[0]
    assert "Traceback" not in done.stderr
    assert _snapshot(folder) == before
