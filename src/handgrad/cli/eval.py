"""``handgrad eval``: detection evaluation from the command line (COCO and PASCAL VOC).

``handgrad eval coco GT.json RESULTS.json [--iou-type bbox|segm|keypoints] [--per-class]
[--json OUT] [--plot PR.png] [--dask-scheduler ADDR]`` prints pycocotools' summary lines (12 for
boxes and masks, 10 for keypoints; same wording and order), a per-class table with
``--per-class``, writes every number as JSON with ``--json`` (summary, per-class AP, parameters
and the precision / recall / scores arrays, -1 where undefined as in pycocotools) and the
precision-recall curves as a figure with ``--plot`` (averaged over categories, or one curve per
category with ``--per-class``). ``--dask-scheduler`` matches image shards on a Dask cluster (same
numbers, bit for bit). ``handgrad eval voc GT.json DETS.json`` prints per-class VOC AP and the
mean. A progress bar (on stderr) follows loading and matching. Errors follow the CLI's one policy
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

from handgrad._files import atomic_write, write_atomic
from handgrad.cli._common import (
    check_distinct_outputs,
    check_figure_path,
    check_output_path,
    fail,
    library_errors,
    progress,
    read_input,
)

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


def _load(bar: Progress, gt_path: Path, det_path: Path, iou_type: str = "bbox") -> tuple[Any, Any]:
    from handgrad.metrics.detection import load_coco_ground_truth, load_detections

    task = bar.add_task("loading ground truth", total=2)
    gt = read_input(lambda p: load_coco_ground_truth(p, iou_type=iou_type), gt_path, "ground truth")
    bar.update(task, advance=1, description="loading detections")
    dets = read_input(lambda p: load_detections(p, gt, iou_type=iou_type), det_path, "detections")
    bar.update(task, advance=1)
    bar.remove_task(task)
    return gt, dets


def _inputs(ground_truth: Path, detections: Path) -> dict[str, Path]:
    return {"ground truth": ground_truth, "detections": detections}


def _evaluate_here(ground_truth: Path, detections: Path, iou_type: str) -> tuple[Any, Any]:
    """(category names, CocoEvaluation) in this process, with a progress bar."""
    from handgrad.metrics.detection import accumulate, build_state
    from handgrad.metrics.detection.params import make_params

    with progress() as bar:
        gt, dets = _load(bar, ground_truth, detections, iou_type)
        task = bar.add_task("matching", total=1.0)
        params = make_params(gt.image_ids, gt.category_ids, iou_type)
        state = build_state(
            gt, dets, params, lambda stage, f: bar.update(task, completed=f, description=stage)
        )
        bar.update(task, description="accumulating")
        return gt.category_names, accumulate(state)


def _evaluate_on_dask(
    ground_truth: Path, detections: Path, iou_type: str, address: str, timeout: float
) -> tuple[Any, Any]:
    """(category names, CocoEvaluation) with the image shards on a Dask cluster."""
    from handgrad.metrics.detection import load_coco_ground_truth
    from handgrad.metrics.detection.distributed import coco_evaluate_dask, dask_client

    client = dask_client(address, timeout)
    try:
        with progress() as bar:
            task = bar.add_task(f"loading, matching on {address}", total=None)
            gt = read_input(
                lambda p: load_coco_ground_truth(p, iou_type=iou_type), ground_truth, "ground truth"
            )
            result = read_input(
                lambda p: coco_evaluate_dask(client, gt, p, iou_type=iou_type),
                detections,
                "detections",
            )
            bar.remove_task(task)
    finally:
        client.close()
    return gt.category_names, result


def _per_class(result: Any, names: dict[int, str]) -> tuple[list[int], list[str], dict[str, Any]]:
    ids = [int(c) for c in result.params.cat_ids]
    labels = [names.get(c, str(c)) for c in ids]
    columns = {"AP": [float(a) for a in result.per_category_ap]}
    for t in (0.5, 0.75):
        if t in result.params.iou_thrs:
            columns[f"AP{round(t * 100)}"] = [float(a) for a in result.per_category_at(t)]
    return ids, labels, columns


def _payload(result: Any, names: dict[int, str]) -> dict[str, Any]:
    """Every number: summary, per-class AP, parameters and pycocotools' arrays."""
    ids, labels, columns = _per_class(result, names)
    p = result.params
    return {
        "iou_type": p.iou_type,
        "stats": result.stats,
        "per_class": {
            str(cat): {
                "name": label,
                **{
                    c: (_num(columns[c][k]) if c in columns else None)
                    for c in ("AP", "AP50", "AP75")
                },
            }
            for k, (cat, label) in enumerate(zip(ids, labels, strict=True))
        },
        "params": {
            "iou_thrs": p.iou_thrs.tolist(),
            "rec_thrs": p.rec_thrs.tolist(),
            "max_dets": list(p.max_dets),
            "area_rng": p.area_rng.tolist(),
            "area_rng_lbl": list(p.area_rng_lbl),
            "cat_ids": ids,
            "n_images": int(p.img_ids.size),
        },
        "precision": result.precision.tolist(),  # (T, R, K, A, M), -1 where undefined
        "recall": result.recall.tolist(),  # (T, K, A, M)
        "scores": result.scores.tolist(),  # (T, R, K, A, M)
    }


@eval_app.command("coco")
def coco(
    ground_truth: GtArg,
    detections: DetArg,
    iou_type: Annotated[
        str, typer.Option("--iou-type", help="What to compare: bbox, segm or keypoints.")
    ] = "bbox",
    per_class: Annotated[bool, typer.Option("--per-class", help="Print AP per category.")] = False,
    json_out: JsonOpt = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Draw precision-recall curves to this figure (png, svg...)."),
    ] = None,
    dask_scheduler: Annotated[
        str | None,
        typer.Option("--dask-scheduler", help="Match image shards on this Dask scheduler."),
    ] = None,
    dask_timeout: Annotated[
        float, typer.Option("--dask-timeout", help="Seconds to wait for the Dask scheduler.")
    ] = 10.0,
) -> None:
    """COCO evaluation (boxes, masks or keypoints); the numbers equal pycocotools' COCOeval."""
    from handgrad._dask import DASK_INSTALL, dask_available
    from handgrad.metrics.detection.inputs import check_iou_type

    out = Console()
    with library_errors():
        check_iou_type(iou_type)
        inputs = _inputs(ground_truth, detections)
        check_output_path(json_out, "--json", inputs)
        check_output_path(plot, "--plot", inputs)
        fmt = check_figure_path(plot, "--plot")
        check_distinct_outputs({"--json": json_out, "--plot": plot})
        if not dask_timeout > 0:
            raise ValueError(f"--dask-timeout must be a positive number; got {dask_timeout}")
        if dask_scheduler is not None and not dask_available():
            fail(f"--dask-scheduler needs Dask: {DASK_INSTALL}")
        if dask_scheduler is None:
            names, result = _evaluate_here(ground_truth, detections, iou_type)
        else:
            names, result = _evaluate_on_dask(
                ground_truth, detections, iou_type, dask_scheduler, dask_timeout
            )
        lines = result.summary_lines()
    for line in lines:
        out.print(line, highlight=False)
    ids, labels, columns = _per_class(result, names)
    if per_class:
        table = Table(title=f"AP per category (area all, maxDets {result.params.max_dets[-1]})")
        for col in ("id", "category", "AP", "AP50", "AP75"):
            table.add_column(col, justify="left" if col == "category" else "right")
        for k, (cat, label) in enumerate(zip(ids, labels, strict=True)):
            cells = [_fmt(columns[c][k]) if c in columns else "-" for c in ("AP", "AP50", "AP75")]
            table.add_row(str(cat), label, *cells)
        out.print(table)
    with library_errors():
        if json_out is not None:
            write_atomic(json_out, json.dumps(_payload(result, names), indent=1))
        if plot is not None:
            from handgrad.metrics.detection.plots import pr_curve_figure

            fig = pr_curve_figure(result, per_category=per_class, category_names=names)
            with atomic_write(plot, binary=True) as f:
                fig.savefig(f, format=fmt)


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
