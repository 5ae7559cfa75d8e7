"""A seeded synthetic COCO-like detection set (ground truth dict and result list).

The shape of COCO val2017 by default (scaled by ``n_images``): 80 categories, about 7 ground-truth
boxes per image (Poisson), sizes log-uniform so that small, medium and large objects all occur, a few
crowd boxes, an ``area`` field smaller than w * h (as a segmentation's area is), and exactly
``dets_per_image`` detections per image: jittered copies of the ground truth (some with the wrong
category, some duplicates) with higher scores, and background boxes with lower scores. Scores are
rounded to ``score_decimals`` so that ties occur, as they do in real result files.

Importable from tests as ``from benchmarks.coco_synth import make_coco``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["make_coco"]


def make_coco(
    n_images: int = 5000,
    *,
    n_categories: int = 80,
    gt_per_image: float = 7.0,
    dets_per_image: int = 100,
    crowd_fraction: float = 0.01,
    score_decimals: int | None = 3,
    seed: int = 0,
    width: float = 640.0,
    height: float = 480.0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ground truth (COCO dict) and detections (COCO result list), deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "width": width, "height": height} for i in range(n_images)]
    categories = [{"id": c + 1, "name": f"class{c + 1}"} for c in range(n_categories)]
    # category frequencies: a few common classes, a long tail (as COCO's "person")
    freq = rng.dirichlet(np.full(n_categories, 0.7))

    n_gt = rng.poisson(gt_per_image, n_images)  # (I,)
    G = int(n_gt.sum())
    g_img = np.repeat(np.arange(1, n_images + 1), n_gt)  # (G,)
    g_cat = rng.choice(n_categories, G, p=freq) + 1
    g_w = np.exp(rng.uniform(np.log(4), np.log(400), G))
    g_h = g_w * np.exp(rng.normal(0, 0.4, G))
    g_x = rng.uniform(0, width, G) - g_w / 2
    g_y = rng.uniform(0, height, G) - g_h / 2
    g_area = g_w * g_h * rng.uniform(0.45, 0.95, G)
    g_crowd = rng.random(G) < crowd_fraction
    g_box = np.round(np.stack([g_x, g_y, g_w, g_h], axis=1), 2)
    annotations = [
        {
            "id": i + 1,
            "image_id": int(g_img[i]),
            "category_id": int(g_cat[i]),
            "bbox": g_box[i].tolist(),
            "area": float(g_area[i]),
            "iscrowd": int(g_crowd[i]),
        }
        for i in range(G)
    ]

    # detections near the ground truth: about two per box, scored high
    near_per_gt = rng.poisson(2.0, G)
    near_src = np.repeat(np.arange(G), near_per_gt)
    # keep at most dets_per_image per image: trim per image after building
    nb = near_src.size
    jit = rng.normal(0, 0.12, (nb, 4)) * np.stack([g_w, g_h, g_w, g_h], axis=1)[near_src]
    n_box = g_box[near_src] + jit
    n_box[:, 2:] = np.maximum(n_box[:, 2:], 1.0)
    n_cat = np.where(
        rng.random(nb) < 0.1, rng.choice(n_categories, nb, p=freq) + 1, g_cat[near_src]
    )
    n_img = g_img[near_src]
    n_score = rng.beta(4, 2, nb)
    order = np.lexsort((rng.random(nb), n_img))
    n_box, n_cat, n_img, n_score = n_box[order], n_cat[order], n_img[order], n_score[order]
    first = np.searchsorted(n_img, n_img, side="left")
    keep = (np.arange(nb) - first) < dets_per_image
    n_box, n_cat, n_img, n_score = n_box[keep], n_cat[keep], n_img[keep], n_score[keep]
    per_image_near = np.bincount(n_img, minlength=n_images + 1)[1:]

    # background detections fill every image up to dets_per_image
    n_bg = dets_per_image - per_image_near  # (I,)
    B = int(n_bg.sum())
    b_img = np.repeat(np.arange(1, n_images + 1), n_bg)
    b_w = np.exp(rng.uniform(np.log(2), np.log(300), B))
    b_h = b_w * np.exp(rng.normal(0, 0.5, B))
    b_box = np.stack([rng.uniform(0, width, B), rng.uniform(0, height, B), b_w, b_h], axis=1)
    b_cat = rng.choice(n_categories, B, p=freq) + 1
    b_score = rng.beta(1.2, 6, B)

    d_img = np.concatenate([n_img, b_img])
    d_cat = np.concatenate([n_cat, b_cat])
    d_box = np.round(np.concatenate([n_box, b_box]), 2)
    d_score = np.concatenate([n_score, b_score])
    if score_decimals is not None:
        d_score = np.round(d_score, score_decimals)
    order = np.lexsort((rng.random(d_img.size), d_img))  # grouped by image, shuffled within
    detections = [
        {
            "image_id": int(d_img[i]),
            "category_id": int(d_cat[i]),
            "bbox": d_box[i].tolist(),
            "score": float(d_score[i]),
        }
        for i in order
    ]
    gt = {"images": images, "annotations": annotations, "categories": categories}
    return gt, detections


def _blobs(boxes: np.ndarray, n: np.ndarray, rng: np.random.Generator) -> list[list[float]]:
    """A near-ellipse of n[i] vertices inscribed in each box (x, y, w, h), to 0.01: jittered
    boxes give masks of about the boxes' IoU."""
    N, top = boxes.shape[0], int(n.max(initial=3))
    step = 2 * np.pi / n[:, None]  # (N, 1)
    theta = (np.arange(top)[None, :] + rng.uniform(-0.2, 0.2, (N, top))) * step  # (N, top)
    r = rng.uniform(0.9, 1.0, (N, top))
    x, y, w, h = (boxes[:, j : j + 1] for j in range(4))
    px = x + w / 2 + w / 2 * r * np.cos(theta)
    py = y + h / 2 + h / 2 * r * np.sin(theta)
    rows = np.round(np.stack([px, py], axis=2).reshape(N, 2 * top), 2).tolist()
    return [row[: 2 * k] for row, k in zip(rows, n.tolist(), strict=True)]


def _rles(polygons: list[list[float]], height: int, width: int) -> list[dict[str, Any]]:
    """Compressed RLE of each polygon, converted in batches."""
    from handgrad.metrics.detection.masks import rle_from_polygons

    out: list[dict[str, Any]] = []
    for lo in range(0, len(polygons), 20000):
        out.extend(rle_from_polygons(polygons[lo : lo + 20000], height, width))
    return out


def make_coco_segm(
    n_images: int = 5000,
    *,
    seed: int = 0,
    det_format: str = "rle",
    det_bbox: bool = False,
    **kwargs: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """:func:`make_coco` with masks: ground truth as polygons (a fifth of them in two parts), crowd
    regions as uncompressed RLE, ``area`` the mask's; results as compressed RLE (``det_format``
    "rle"), uncompressed RLE ("counts") or polygons ("polygon"), with their ``bbox`` only when
    ``det_bbox`` (pycocotools then tests the box's area against the area ranges)."""
    from handgrad.metrics.detection.masks import rle_area

    gt, dets = make_coco(n_images, seed=seed, **kwargs)
    rng = np.random.default_rng(seed + 1)
    height, width = int(kwargs.get("height", 480)), int(kwargs.get("width", 640))
    for im in gt["images"]:
        im["height"], im["width"] = height, width
    anns = gt["annotations"]
    boxes = np.asarray([a["bbox"] for a in anns], dtype=np.float64).reshape(len(anns), 4)
    two = rng.random(len(anns)) < 0.2  # two parts: left and right halves
    left, right = boxes.copy(), boxes.copy()
    left[:, 2] = right[:, 2] = boxes[:, 2] / 2
    right[:, 0] = boxes[:, 0] + boxes[:, 2] / 2
    whole = _blobs(np.where(two[:, None], left, boxes), rng.integers(8, 24, len(anns)), rng)
    second = _blobs(right, np.full(len(anns), 10), rng)
    polys = [[p, q] if t else [p] for p, q, t in zip(whole, second, two, strict=True)]
    flat = [p for parts in polys for p in parts]
    rles = _rles(flat, height, width)
    areas = rle_area(rles)
    k = 0
    for a, parts in zip(anns, polys, strict=True):
        a["area"] = float(areas[k : k + len(parts)].sum())  # parts may overlap: close enough
        if a["iscrowd"]:
            from handgrad.metrics.detection.masks import rle_decode

            m = rle_decode(rles[k]).ravel(order="F")
            change = np.flatnonzero(np.diff(np.r_[0, m]) != 0)
            a["segmentation"] = {
                "size": [height, width],
                "counts": np.diff(np.r_[0, change, m.size]).tolist(),
            }
        else:
            a["segmentation"] = parts
        k += len(parts)
    det_boxes = np.asarray([d["bbox"] for d in dets], dtype=np.float64).reshape(len(dets), 4)
    det_polys = _blobs(det_boxes, rng.integers(8, 20, len(dets)), rng)
    masks = _rles(det_polys, height, width) if det_format != "polygon" else None
    for i, d in enumerate(dets):
        if det_format == "polygon":
            d["segmentation"] = [det_polys[i]]
        elif det_format == "counts":
            m = masks[i]  # type: ignore[index]
            d["segmentation"] = _uncompressed(m)
        else:
            d["segmentation"] = masks[i]  # type: ignore[index]
        if not det_bbox:
            del d["bbox"]
    return gt, dets


def _uncompressed(rle: dict[str, Any]) -> dict[str, Any]:
    from handgrad.metrics.detection.rle import decode_strings

    counts, _ = decode_strings([rle["counts"]], str)
    return {"size": rle["size"], "counts": counts.tolist()}


def make_coco_keypoints(
    n_images: int = 500,
    *,
    persons_per_image: float = 4.0,
    dets_per_image: int = 20,
    n_keypoints: int = 17,
    seed: int = 0,
    width: float = 640.0,
    height: float = 480.0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A COCO person-keypoints-like set: people with 17 keypoints, some not labelled (v = 0), a
    tenth with none labelled (``num_keypoints`` 0), a few crowd regions; results near the people
    (jittered keypoints, high scores) and background ones, scores rounded so that ties occur."""
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "width": width, "height": height} for i in range(n_images)]
    categories = [{"id": 1, "name": "person", "keypoints": [f"k{j}" for j in range(n_keypoints)]}]
    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    for im in images:
        for _ in range(rng.poisson(persons_per_image)):
            w = float(np.exp(rng.uniform(np.log(8), np.log(300))))
            h = w * float(np.exp(rng.normal(0.5, 0.3)))
            x, y = float(rng.uniform(0, width) - w / 2), float(rng.uniform(0, height) - h / 2)
            kx = x + rng.uniform(0, w, n_keypoints)
            ky = y + rng.uniform(0, h, n_keypoints)
            v = rng.choice([0, 1, 2], n_keypoints, p=[0.3, 0.2, 0.5])
            crowd = rng.random() < 0.03
            if crowd or rng.random() < 0.1:
                v[:] = 0
            kx, ky = np.where(v > 0, np.round(kx, 1), 0.0), np.where(v > 0, np.round(ky, 1), 0.0)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": im["id"],
                    "category_id": 1,
                    "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
                    "area": round(w * h * float(rng.uniform(0.4, 0.9)), 2),
                    "iscrowd": int(crowd),
                    "num_keypoints": int((v > 0).sum()),
                    "keypoints": np.stack([kx, ky, v], axis=1).ravel().tolist(),
                }
            )
            for _ in range(rng.poisson(1.5)):
                scale = float(rng.uniform(0.01, 0.08)) * np.sqrt(w * h)
                jx = x + rng.uniform(0, w, n_keypoints) if crowd else kx
                dx = np.where(v > 0, jx + rng.normal(0, scale, n_keypoints), jx)
                dy = np.where(v > 0, ky + rng.normal(0, scale, n_keypoints), y + h / 2)
                dets.append(_kp_result(im["id"], dx, dy, rng.beta(4, 2), rng))
        for _ in range(max(0, dets_per_image - sum(d["image_id"] == im["id"] for d in dets))):
            dx, dy = rng.uniform(0, width, n_keypoints), rng.uniform(0, height, n_keypoints)
            dets.append(_kp_result(im["id"], dx, dy, rng.beta(1.2, 6), rng))
    gt = {"images": images, "annotations": anns, "categories": categories}
    return gt, dets


def _kp_result(
    image_id: int, x: np.ndarray, y: np.ndarray, score: float, rng: np.random.Generator
) -> dict[str, Any]:
    v = np.ones(x.size)
    kp = np.stack([np.round(x, 2), np.round(y, 2), v], axis=1).ravel().tolist()
    return {"image_id": image_id, "category_id": 1, "keypoints": kp, "score": round(score, 2)}


def write_coco_files(
    gt_path: Any,
    det_path: Any,
    n_images: int = 20000,
    *,
    chunk_images: int = 1000,
    seed: int = 0,
    **kwargs: Any,
) -> int:
    """Write a large :func:`make_coco` set as a ground-truth JSON file and a result JSON file,
    built and written ``chunk_images`` images at a time (so that the results never sit in memory
    as one list). Returns the number of results written."""
    import json

    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    categories: list[dict[str, Any]] = []
    written = 0
    with open(det_path, "w") as out:
        out.write("[")
        for k, lo in enumerate(range(0, n_images, chunk_images)):
            n = min(chunk_images, n_images - lo)
            gt, dets = make_coco(n, seed=seed + k, **kwargs)
            for im in gt["images"]:
                im["id"] += lo
            for a in gt["annotations"]:
                a["id"] += len(annotations)
                a["image_id"] += lo
            for d in dets:
                d["image_id"] += lo
            images += gt["images"]
            annotations += gt["annotations"]
            categories = gt["categories"]
            text = json.dumps(dets)[1:-1]
            if text:
                out.write(("," if written else "") + text)
            written += len(dets)
        out.write("]")
    with open(gt_path, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return written
