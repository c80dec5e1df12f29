"""Round trip: project -> snapshot -> new project -> snapshot gives the same content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.project import ProjectModel
from orthogui.io.importers import LabelMap, merge_into, read_import
from orthogui.io.snapshot import SPLITS, ImageMode, SnapshotOptions, export_snapshot
from tests.unit.io.test_coco_export import make_model

OPTIONS = SnapshotOptions(approved_only=False, include_rejected=True, image_mode=ImageMode.ORIGINAL)


def _content(snap: Path) -> list[tuple[Any, ...]]:
    """Every image's status, attributes and findings, independent of ids, names and splits."""
    out = []
    for split in SPLITS:
        coco = json.loads((snap / "annotations" / f"{split}.json").read_text())
        cats = {c["id"]: c["name"] for c in coco["categories"]}
        anns: dict[int, list[tuple[Any, ...]]] = {}
        for a in coco["annotations"] + coco["rejected_annotations"]:
            anns.setdefault(a["image_id"], []).append(
                (
                    cats[a["category_id"]],
                    a["orthogui_shape"],
                    a["review_state"],
                    a["reviewed_by"],
                    a["reviewed_at"],
                    json.dumps(a["provenance"], sort_keys=True),
                    json.dumps(a["attributes"], sort_keys=True),
                    a["original_category"],
                    json.dumps(a["original_shape"], sort_keys=True),
                    tuple(a["segmentation"][0]),
                )
            )
        for im in coco["images"]:
            found = sorted(anns.get(im["id"], []), key=lambda t: (t[:9], t[9][:2]))
            out.append(
                (
                    im["status"],
                    json.dumps(im["attributes"], sort_keys=True),
                    im["width"],
                    im["height"],
                    found,
                )
            )
    return sorted(out, key=lambda t: (t[:4], [f[:9] for f in t[4]], [f[9][:2] for f in t[4]]))


def test_project_snapshot_project_snapshot_is_stable(tmp_path: Path) -> None:
    model = make_model(tmp_path)
    first = export_snapshot(
        model, tmp_path / "s1", image_path_of=lambda r: Path(r.path), options=OPTIONS
    )
    again = ProjectModel()
    for split in SPLITS:
        res = read_import(
            "coco",
            first.path / "annotations" / f"{split}.json",
            label_map=LabelMap(DEFAULT_CATEGORIES),
            images_root=first.path,
        )
        assert not res.warnings
        merge_into(again, res)
    assert len(again.images()) == len(model.images())
    assert len(again.annotations()) == len(model.annotations())
    second = export_snapshot(
        again, tmp_path / "s2", image_path_of=lambda r: Path(r.path), options=OPTIONS
    )
    a, b = _content(first.path), _content(second.path)
    assert len(a) == len(b) == 12
    for (*meta_a, anns_a), (*meta_b, anns_b) in zip(a, b):
        assert meta_a == meta_b
        assert [x[:9] for x in anns_a] == [x[:9] for x in anns_b]
        for x, y in zip(anns_a, anns_b):
            np.testing.assert_allclose(x[9], y[9], atol=0.5)
    # Study linkage survives: images of one study stay together in one split.
    for snap in (first.path, second.path):
        studies: dict[str, set[str]] = {}
        for split in SPLITS:
            for im in json.loads((snap / "annotations" / f"{split}.json").read_text())["images"]:
                studies.setdefault(im["study"], set()).add(split)
        assert len(studies) == 6 and all(len(s) == 1 for s in studies.values())

    # Split membership may differ (the study keys are re-salted); the totals may not.
    def totals(m: dict[str, Any]) -> dict[str, int]:
        keys = ("images", "annotations", "rejected_annotations")
        return {k: sum(c[k] for c in m["counts"].values()) for k in keys}

    assert (
        totals(first.manifest)
        == totals(second.manifest)
        == {
            "images": 12,
            "annotations": 24,
            "rejected_annotations": 12,
        }
    )
