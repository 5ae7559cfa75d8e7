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
