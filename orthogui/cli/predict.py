"""``orthogui predict``: run a model over radiographs and write COCO results, or store the
findings as pre-annotations in a project (with ``--score``, each image's uncertainty too).

A batch always finishes: an input that cannot be read is skipped with one line naming it,
every other result is written, and the exit status is 1 when any input failed. In a project,
images already pre-annotated by the same model version are skipped, so a rerun resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from orthogui.core.annotation import Prediction
from orthogui.core.categories import DEFAULT_CATEGORIES, CategorySet
from orthogui.core.geometry import Polygon
from orthogui.core.radiograph import RadiographError
from orthogui.io.masks import mask_to_rle, polygons_to_mask

COMMAND = "predict"
HELP = "Run a model over radiographs: COCO results (--out) or pre-annotations (--project)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUTS",
        help="radiograph files or folders (searched recursively for the readers' suffixes); "
        "with --project, image ids (none = all)",
    )
    parser.add_argument("--model", required=True, help="model name (in models/) or card path")
    parser.add_argument("--models-dir", default=None, help="folder of model cards")
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default=None, help="default: CUDA when available"
    )
    parser.add_argument("--score-threshold", type=float, default=None, help="override the card's")
    parser.add_argument("--nms-iou", type=float, default=None, help="override the card's")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", type=Path, help="COCO results JSON to write")
    out.add_argument("--project", type=Path, help="project file to store pre-annotations in")
    parser.add_argument(
        "--score",
        action="store_true",
        help="with --project: also store each image's uncertainty for the review queue "
        "(runs the model twice more per image: the image and its mirror image)",
    )
    parser.add_argument(
        "--images-json",
        type=Path,
        default=None,
        help="also write the COCO images+categories file the results refer to (default: OUT.images.json)",
    )


class _Report:
    """Progress bar, one line per skipped input, and the tally for the summary line."""

    def __init__(self, total: int, *, single_line: bool = False) -> None:
        self.total = total
        self.single_line = single_line  # one input that fails: its line is the whole report
        self.done = 0
        self.failed: list[str] = []
        self._bar_open = False

    def progress(self, name: str) -> None:
        self.done += 1
        width = 30
        filled = width * self.done // max(self.total, 1)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {name[-40:]:<40}"
        )
        self._bar_open = self.done < self.total
        if not self._bar_open:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def skip(self, name: str, exc: BaseException) -> None:
        """One line naming the input and why it was skipped."""
        from orthogui.cli._errors import describe

        self.done += 1
        reason = describe(exc)
        line = reason if name in reason else f"{name}: {reason}"
        sys.stderr.write(("\n" if self._bar_open else "") + f"skipped {line}\n")
        self._bar_open = False
        self.failed.append(name)

    def warn(self, name: str, warning: str) -> None:
        """One line naming an input that was read but must be looked at with care."""
        sys.stderr.write(("\n" if self._bar_open else "") + f"warning {name}: {warning}\n")
        self._bar_open = False

    def finish(self, summary: str) -> int:
        """Print the summary (unless ``single_line`` and the one input failed); the exit status
        is 1 when any input failed."""
        if self.failed and self.total == 1 and self.single_line:
            return 1
        failed = f"; {len(self.failed)} of {self.total} failed" if self.failed else ""
        sys.stderr.write(f"{summary}{failed}\n")
        return 1 if self.failed else 0


# Errors of one input that the run survives: the file is skipped. Store write failures and
# programming errors are not in this list and end the run.
_SKIPPABLE = (
    RadiographError,
    OSError,
    ValueError,
    RuntimeError,
    MemoryError,
)


def coco_result(
    p: Prediction, *, image_id: int, shape: tuple[int, int], categories: CategorySet
) -> dict[str, Any]:
    """One COCO results entry: bbox always, RLE segmentation for polygons."""
    entry: dict[str, Any] = {
        "image_id": image_id,
        "category_id": categories.by_name(p.category).id,
        "bbox": [round(v, 2) for v in p.shape.bbox().xywh()],
        "score": round(float(p.score), 5),
    }
    if isinstance(p.shape, Polygon):
        entry["segmentation"] = mask_to_rle(polygons_to_mask([p.shape], shape))
    return entry


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    if args.score and args.project is None:
        raise ValueError("--score needs --project (scores are stored in a project)")
    if args.project is not None:  # refuse a project open elsewhere before loading the model
        from orthogui.io.store import check_unlocked

        check_unlocked(args.project)
    import torch

    from orthogui.ml.predictor import MaskRCNNPredictor

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    predictor = MaskRCNNPredictor.from_card(
        args.model,
        device=args.device,
        models_dir=args.models_dir,
        score_threshold=args.score_threshold,
        nms_iou=args.nms_iou,
    )
    if args.project is not None:
        return _run_project(args, predictor)
    return _run_files(args, predictor)


def _run_files(args: argparse.Namespace, predictor: Any) -> int:
    from orthogui.io.folder_scan import scan_paths
    from orthogui.io.readers import read_radiograph

    if not args.inputs:
        raise ValueError("no INPUTS given")
    categories = DEFAULT_CATEGORIES
    predictor.card.check_categories(categories)
    # Folders are searched; a missing path stays, to be reported like any unreadable file, and
    # so do the other files found in a folder and the files a DICOMDIR lists but lacks: the
    # user asked for the folder, so each is a line and the run's status says it failed.
    files: list[Path] = []
    for p in map(Path, args.inputs):
        if not p.exists():
            files.append(p)
            continue
        scan = scan_paths([p])
        files += [*scan.files, *scan.missing, *scan.others]
    if not files:
        raise ValueError(f"no radiographs in {', '.join(args.inputs)}")
    results: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    report = _Report(len(files), single_line=True)
    for path in files:
        name = str(path)
        try:
            rg = read_radiograph(path)
            for warning in rg.warnings:  # e.g. a truncated JPEG shown with rows missing
                report.warn(name, warning)
            preds = predictor.predict(rg)
            entries = [
                coco_result(p, image_id=len(images) + 1, shape=rg.shape, categories=categories)
                for p in preds
            ]
        except _SKIPPABLE as exc:
            report.skip(name, exc)
            continue
        images.append(
            {"id": len(images) + 1, "file_name": name, "width": rg.columns, "height": rg.rows}
        )
        results += entries
        report.progress(name)
    if not images:
        return report.finish(f"no radiograph of {len(files)} could be read; nothing written")
    out: Path = args.out
    out.write_text(json.dumps(results), encoding="utf-8")
    images_json: Path = args.images_json or out.with_name(out.stem + ".images.json")
    coco = {
        "images": images,
        "annotations": [],
        "categories": [
            {"id": c.id, "name": c.name, "supercategory": c.supercategory} for c in categories
        ],
        "info": {"model": predictor.model_name, "model_version": predictor.model_version},
    }
    images_json.write_text(json.dumps(coco), encoding="utf-8")
    return report.finish(
        f"{len(results)} findings on {len(images)} images -> {out} (images: {images_json})"
    )


PREANNOTATED_BY = "preannotated_by"
"""``ImageRecord.attributes`` key: the model ("name version") whose proposals the image got."""


def _already_done(model: Any, record: Any, key: str, name: str, version: str) -> bool:
    """Whether ``record`` was pre-annotated by this model version (by ``predict --project``,
    which marks the image, or elsewhere, which leaves the model's findings on it)."""
    if record.attributes.get(PREANNOTATED_BY) == key:
        return True
    return any(
        a.provenance.is_model
        and a.provenance.model_name == name
        and a.provenance.model_version == version
        for a in model.annotations(record.id)
    )


def _run_project(args: argparse.Namespace, predictor: Any) -> int:
    from orthogui.core.review import preannotation
    from orthogui.io.readers import read_radiograph
    from orthogui.io.store import ProjectStore
    from orthogui.ml.service import SCORED_BY, model_key, with_uncertainty

    store = ProjectStore.open(args.project, require_write=True)
    try:
        predictor.card.check_categories(store.model.categories)
        wanted = set(args.inputs)
        records = [r for r in store.model.images() if not wanted or r.id in wanted]
        unknown = wanted - {r.id for r in records}
        if unknown:
            raise ValueError(f"{args.project}: no images with ids {sorted(unknown)}")
        key = model_key(predictor)
        name, version = predictor.model_name, predictor.model_version
        todo = []
        for rec in records:
            predict = not _already_done(store.model, rec, key, name, version)
            score = args.score and rec.attributes.get(SCORED_BY) != key
            if predict or score:
                todo.append((rec, predict, score))
        skipped = len(records) - len(todo)
        total = 0
        scores: list[float] = []
        label = f"Pre-annotate ({name} {version})"
        report = _Report(len(todo))
        for rec, predict, score in todo:
            try:
                rg = read_radiograph(store.image_path(rec))
                preds = predictor.predict(rg) if predict else None
                value = predictor.explained_uncertainty(rg) if score else None
            except _SKIPPABLE as exc:
                report.skip(f"{rec.id} ({rec.path})", exc)
                continue
            if preds is not None:
                step = preannotation(store.model, rec.id, preds, label=label)
                if step is not None:
                    store.history.push(step)
                total += len(preds)
            # Bookkeeping like the GUI's: stored, not an undo step.
            updated = store.model.image(rec.id)
            if preds is not None:
                updated = updated.evolve(attributes={**updated.attributes, PREANNOTATED_BY: key})
            if value is not None:
                scores.append(float(value))
                updated = with_uncertainty(updated, value, predictor)
            store.update_images([updated])
            report.progress(rec.id)
        scored = f", uncertainty {min(scores):.3f}-{max(scores):.3f}" if scores else ""
        done = f"; {skipped} already done by {key}" if skipped else ""
        return report.finish(
            f"{total} pre-annotations on {len(todo) - len(report.failed)} images{scored}"
            f"{done} -> {args.project}"
        )
    finally:
        store.close()
