"""``handgrad eval``: detection evaluation from the command line (COCO and PASCAL VOC).

``handgrad eval coco GT.json DETS.json [--per-class] [--json OUT]`` prints pycocotools' 12-line
summary (and a per-class table); ``handgrad eval voc GT.json DETS.json`` prints per-class VOC AP and
the mean. A progress bar (on stderr) follows loading and matching. A ``ValueError`` or ``TypeError``
from the library (a malformed file, an unknown id) becomes a one-line error with exit code 2; the
library's :class:`~handgrad.metrics.detection.DetectionEvalWarning` lines are shown as warnings.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

eval_app = typer.Typer(
    help="Evaluate detections: COCO (pycocotools' numbers) and PASCAL VOC.",
    no_args_is_help=True,
)

GtArg = Annotated[Path, typer.Argument(help="Ground truth: a COCO JSON file.")]
DetArg = Annotated[Path, typer.Argument(help="Detections: a COCO result JSON file.")]
JsonOpt = Annotated[
    Path | None, typer.Option("--json", help="Also write the numbers to this JSON file.")
]


@contextmanager
def _library_errors(err: Console) -> Iterator[None]:
    """Library ValueError/TypeError -> one line on stderr and exit code 2; warnings shown."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except (ValueError, TypeError) as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        finally:
            for w in caught:
                err.print(f"[yellow]warning:[/yellow] {w.message}", highlight=False, soft_wrap=True)


def _progress(err: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _load(bar: Progress, gt_path: Path, det_path: Path) -> tuple[Any, Any]:
    from handgrad.metrics.detection import load_coco_ground_truth, load_detections

    task = bar.add_task("loading ground truth", total=2)
    gt = load_coco_ground_truth(gt_path)
    bar.update(task, advance=1, description="loading detections")
    dets = load_detections(det_path, gt)
    bar.update(task, advance=1)
    bar.remove_task(task)
    return gt, dets


@eval_app.command("coco")
def coco(
    ground_truth: GtArg,
    detections: DetArg,
    per_class: Annotated[bool, typer.Option("--per-class", help="Print AP per category.")] = False,
    json_out: JsonOpt = None,
) -> None:
    """COCO bounding-box evaluation; the numbers equal pycocotools' COCOeval."""
    from handgrad.metrics.detection import coco_eval_state

    out, err = Console(), Console(stderr=True)
    with _library_errors(err):
        with _progress(err) as bar:
            gt, dets = _load(bar, ground_truth, detections)
            task = bar.add_task("matching", total=1.0)
            report: Callable[[str, float], None] = lambda stage, f: bar.update(  # noqa: E731
                task, completed=f, description=stage
            )
            state = coco_eval_state(gt, dets, progress=report)
            bar.update(task, description="accumulating")
            result = state.accumulate()
        lines = result.summary_lines()
    for line in lines:
        out.print(line, highlight=False)
    names = [gt.category_names.get(int(c), str(int(c))) for c in result.params.cat_ids]
    ap = result.per_category_ap
    ap50 = result.per_category_at(0.5) if 0.5 in result.params.iou_thrs else None
    ap75 = result.per_category_at(0.75) if 0.75 in result.params.iou_thrs else None
    if per_class:
        table = Table(title=f"AP per category (area all, maxDets {result.params.max_dets[-1]})")
        for col in ("id", "category", "AP", "AP50", "AP75"):
            table.add_column(col, justify="left" if col == "category" else "right")
        for k, cat in enumerate(result.params.cat_ids):
            table.add_row(
                str(int(cat)),
                names[k],
                _fmt(float(ap[k])),
                "-" if ap50 is None else _fmt(float(ap50[k])),
                "-" if ap75 is None else _fmt(float(ap75[k])),
            )
        out.print(table)
    if json_out is not None:

        def num(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        payload = {
            "stats": result.stats,
            "per_class": {
                names[k]: {
                    "id": int(cat),
                    "AP": num(float(ap[k])),
                    "AP50": None if ap50 is None else num(float(ap50[k])),
                    "AP75": None if ap75 is None else num(float(ap75[k])),
                }
                for k, cat in enumerate(result.params.cat_ids)
            },
        }
        json_out.write_text(json.dumps(payload, indent=2))


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

    out, err = Console(), Console(stderr=True)
    with _library_errors(err):
        with _progress(err) as bar:
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
        json_out.write_text(json.dumps(result.as_dict(), indent=2))
