"""The first-start demo project: synthetic post-operative studies (PNG and DICOM) and a few
real FracAtlas radiographs with their experts' fracture outlines, ready in the review queue.

Built once into a folder (atomically: complete or absent) and reopened on later starts.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.predictor import Predictor
from orthogui.core.project import ImageRecord
from orthogui.core.radiograph import RadiographError
from orthogui.core.review import preannotation
from orthogui.io.files import records_for
from orthogui.io.importers import LabelMap, merge_into, read_import
from orthogui.io.readers import read_radiograph
from orthogui.io.store import ProjectStore
from orthogui.paths import resource
from orthogui.synth.dataset import write_dataset

FRACATLAS_DEMO = resource("demo", "fracatlas")  # shipped images, outlines and attribution
PROJECT_NAME = "demo.orthogui"
DEMO_VERSION = 4  # bump when the content changes: an older demo folder is rebuilt

# (sub-folder, scene, format, count, seed): deterministic synthetic studies.
SYNTHETIC_STUDIES: tuple[tuple[str, str, str, int, int], ...] = (
    ("synthetic-limb-png", "limb", "png16", 4, 101),
    ("synthetic-mixed-dicom", "mixed", "dicom", 3, 202),
)

Progress = Callable[[str], None]


def _sized(records: list[ImageRecord]) -> list[ImageRecord]:
    """Fill width/height (and pixel spacing) by reading each image once."""
    out = []
    for rec in records:
        try:
            rg = read_radiograph(rec.path)
        except RadiographError:
            out.append(rec)
            continue
        attrs = dict(rec.attributes)
        if rg.pixel_spacing is not None:
            attrs["pixel_spacing_mm"] = list(rg.pixel_spacing)
            attrs["spacing_source"] = rg.spacing_source
        out.append(rec.evolve(width=rg.columns, height=rg.rows, attributes=attrs))
    return out


def build_demo_project(
    folder: str | Path,
    *,
    user: str = "demo",
    progress: Progress | None = None,
    predictor: Predictor | None = None,
) -> Path:
    """Build the demo project in ``folder`` (if not built yet) and return the project file.

    Parameters
    ----------
    folder
        Where the demo lives (the app's data folder ``demo/``).
    user
        Recorded as the project's creator.
    progress
        Called with a short line per step (the app shows it while starting).
    predictor
        The installed model: every image is pre-annotated with its findings (proposals, one
        undo step per image). The demo is rebuilt when another model is installed.
    """
    root = Path(folder)
    project = root / PROJECT_NAME
    model = "none" if predictor is None else f"{predictor.model_name}-{predictor.model_version}"
    marker = root / _safe(f".demo-v{DEMO_VERSION}-{model}")
    if project.is_file() and marker.is_file():
        return project
    say = progress or (lambda _line: None)
    root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".demo-build-", dir=root.parent))
    try:
        _build(work, user=user, say=say, predictor=predictor)
        (work / marker.name).touch()
        if root.exists():
            shutil.rmtree(root)
        work.rename(root)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return project


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


def preannotate(store: ProjectStore, predictor: Predictor, *, say: Progress) -> int:
    """Run ``predictor`` on every image of ``store``: proposals, one undo step per image.

    Returns the number of findings added. An image the model cannot read is skipped (the
    queue marks it when it is opened).
    """
    total = 0
    records = store.model.images()
    label = f"Pre-annotate ({predictor.model_name} {predictor.model_version})"
    for i, rec in enumerate(records, start=1):
        say(f"Pre-annotating {i}/{len(records)} with {predictor.model_name}…")
        try:
            rg = read_radiograph(store.image_path(rec))
        except RadiographError:
            continue
        preds = predictor.predict(rg)
        step = preannotation(store.model, rec.id, preds, label=label)
        if step is not None:
            store.history.push(step)
        total += len(preds)
    return total


def _build(work: Path, *, user: str, say: Progress, predictor: Predictor | None = None) -> None:
    store = ProjectStore.create(work / PROJECT_NAME, categories=DEFAULT_CATEGORIES, user=user)
    try:
        for sub, scene, fmt, n, seed in SYNTHETIC_STUDIES:
            say(f"Generating {n} synthetic {scene} radiographs ({fmt})…")
            write_dataset(work / sub, n=n, seed=seed, scene=scene, size=1024, fmt=fmt)  # type: ignore[arg-type]
            store.add_images(_sized(records_for([work / sub / "images"])))
        say("Adding FracAtlas radiographs with their fracture outlines…")
        images = work / "fracatlas"
        shutil.copytree(FRACATLAS_DEMO, images)
        result = read_import(
            "fracatlas", images, label_map=LabelMap(DEFAULT_CATEGORIES, {"fractured": "fracture"})
        )
        merge_into(
            store.model,
            result,
            history=store.history,  # persisted like any edit: one undoable import step
            add_images=lambda recs: store.add_images(_sized(recs)),
            label="Import FracAtlas outlines:",
        )
        if predictor is not None:
            preannotate(store, predictor, say=say)
    finally:
        store.close()
