"""``handgrad eval``: detection evaluation from the command line (COCO and PASCAL VOC).

``handgrad eval coco GT.json DETS.json [--per-class] [--json OUT]`` prints pycocotools' 12-line
summary (and a per-class table); ``handgrad eval voc GT.json DETS.json`` prints per-class VOC AP and
the mean. A progress bar (on stderr) follows loading and matching. Errors follow the CLI's one policy
(:mod:`handgrad.cli._common`); the library's
:class:`~handgrad.metrics.detection.DetectionEvalWarning` lines are shown as warnings. Per-class
output is keyed by category id (names need not be unique), with the name beside it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from handgrad._files import write_atomic
from handgrad.cli._common import check_output_path, library_errors, progress, read_input

__all__ = ["eval_app"]

eval_app = typer.Typer(
    help="Evaluate detections: COCO (pycocotools' numbers) and PASCAL VOC.",
    no_args_is_help=True,
)

GtArg = Annotated[Path, typer.Argument(help="Ground truth: a COCO JSON file.")]
DetArg = Annotated[Path, typer.Argument(help="Detections: a COCO result JSON file.")]
JsonOpt = Annotated[
    Path | None, typer.Option("--json", help="Also write the numbers to this JSON file.")
]


def _fmt(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.3f}"


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _load(bar: Progress, gt_path: Path, det_path: Path) -> tuple[Any, Any]:
    from handgrad.metrics.detection import load_coco_ground_truth, load_detections

    task = bar.add_task("loading ground truth", total=2)
    gt = read_input(load_coco_ground_truth, gt_path, "ground truth")
    bar.update(task, advance=1, description="loading detections")
    dets = read_input(lambda p: load_detections(p, gt), det_path, "detections")
    bar.update(task, advance=1)
    bar.remove_task(task)
    return gt, dets


def _inputs(ground_truth: Path, detections: Path) -> dict[str, Path]:
    return {"ground truth": ground_truth, "detections": detections}


@eval_app.command("coco")
def coco(
    ground_truth: GtArg,
    detections: DetArg,
    per_class: Annotated[bool, typer.Option("--per-class", help="Print AP per category.")] = False,
    json_out: JsonOpt = None,
) -> None:
    """COCO bounding-box evaluation; the numbers equal pycocotools' COCOeval."""
    from handgrad.metrics.detection import coco_eval_state

    out = Console()
    with library_errors():
        check_output_path(json_out, "--json", _inputs(ground_truth, detections))
        with progress() as bar:
            gt, dets = _load(bar, ground_truth, detections)
            task = bar.add_task("matching", total=1.0)
            state = coco_eval_state(
                gt, dets, progress=lambda stage, f: bar.update(task, completed=f, description=stage)
            )
            bar.update(task, description="accumulating")
            result = state.accumulate()
    for line in result.summary_lines():
        out.print(line, highlight=False)
    ids = [int(c) for c in result.params.cat_ids]
    names = [gt.category_names.get(c, str(c)) for c in ids]
    ap = [float(a) for a in result.per_category_ap]
    at = {
        f"AP{round(t * 100)}": [float(a) for a in result.per_category_at(t)]
        for t in (0.5, 0.75)
        if t in result.params.iou_thrs
    }
    if per_class:
        table = Table(title=f"AP per category (area all, maxDets {result.params.max_dets[-1]})")
        for col in ("id", "category", "AP", "AP50", "AP75"):
            table.add_column(col, justify="left" if col == "category" else "right")
        for k, (cat, name) in enumerate(zip(ids, names, strict=True)):
            extra = [_fmt(at[c][k]) if c in at else "-" for c in ("AP50", "AP75")]
            table.add_row(str(cat), name, _fmt(ap[k]), *extra)
        out.print(table)
    if json_out is not None:
        payload = {
            "stats": result.stats,
            "per_class": {
                str(cat): {
                    "name": name,
                    "AP": _num(ap[k]),
                    **{c: (_num(at[c][k]) if c in at else None) for c in ("AP50", "AP75")},
                }
                for k, (cat, name) in enumerate(zip(ids, names, strict=True))
            },
        }
        with library_errors():
            write_atomic(json_out, json.dumps(payload, indent=2))


@eval_app.command("voc")
def voc(
    ground_truth: GtArg,
    detections: DetArg,
    method: Annotated[str, typer.Option(help="voc12 (all points) or voc07 (11 points).")] = "voc12",
    iou: Annotated[float, typer.Option(help="Overlap a detection must exceed.")] = 0.5,
    plus_one: Annotated[
        bool, typer.Option("--plus-one", help="The devkit's +1 pixel convention.")
    ] = False,
    box_format: Annotated[
        str, typer.Option(help="How bbox fields read: xywh (COCO) or xyxy (VOC XML).")
    ] = "xywh",
    json_out: JsonOpt = None,
) -> None:
    """PASCAL VOC AP per class and mAP (``difficult`` boxes ignored)."""
    from handgrad.metrics.detection import voc_evaluate

    out = Console()
    with library_errors():
        check_output_path(json_out, "--json", _inputs(ground_truth, detections))
        with progress() as bar:
            gt, dets = _load(bar, ground_truth, detections)
            task = bar.add_task("matching", total=None)
            result = voc_evaluate(
                gt, dets, iou_threshold=iou, method=method, plus_one=plus_one, box_format=box_format
            )
            bar.remove_task(task)
    table = Table(title=f"PASCAL VOC AP ({method}, IoU > {iou:g})")
    for col in ("id", "category", "positives", "AP"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for k, cat in enumerate(result.category_ids):
        table.add_row(
            str(int(cat)),
            result.category_names[int(cat)],
            str(int(result.n_positives[k])),
            _fmt(float(result.ap[k])),
        )
    out.print(table)
    out.print(f"mAP = {_fmt(result.mean_ap)}", highlight=False)
    if json_out is not None:
        with library_errors():
            write_atomic(json_out, json.dumps(result.as_dict(), indent=2))
