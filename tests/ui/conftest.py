"""Shared GUI fixtures: a small project (model + history) over synthetic radiographs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from orthogui.core.annotation import Annotation, Prediction, ReviewState
from orthogui.core.geometry import Box, Polygon
from orthogui.core.history import History
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.core.radiograph import Radiograph, WindowPreset
from orthogui.core.review import set_state

SIZE = 512


def synthetic_radiograph(
    size: int = SIZE,
    *,
    spacing: tuple[float, float] | None = (0.2, 0.2),
    source: str = "PixelSpacing",
    seed: int = 0,
) -> Radiograph:
    """A 12-bit 'bone and screw' picture: gradient background, a bright shaft, a screw."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    img = 600 + 400 * (yy / size) + rng.normal(0, 15, (size, size))
    shaft = np.abs(xx - size * 0.5 - 0.1 * (yy - size / 2)) < size * 0.12
    img[shaft] += 1400
    # A screw lying where the fixture's proposed screw polygon is (x 160-240, y 200-280).
    screw = (np.abs(yy - size * 0.47) < size * 0.05) & (np.abs(xx - size * 0.39) < size * 0.07)
    img[screw] = 3800
    stored = np.clip(img, 0, 4095).astype(np.uint16)
    return Radiograph(
        path=f"synthetic-{seed}.png",
        format="png",
        stored=stored,
        bits_stored=12,
        windows=(WindowPreset(2000.0, 4000.0, "Default"),),
        pixel_spacing=spacing,
        spacing_source=source if spacing else "none",  # type: ignore[arg-type]
    )


def square(x: float, y: float, side: float, n: int = 4) -> Polygon:
    """A square ring of ``n`` vertices per side (n=1: the 4 corners), clockwise from top-left."""
    t = np.linspace(0, 1, n, endpoint=False)
    top = np.c_[x + side * t, np.full(n, y)]
    right = np.c_[np.full(n, x + side), y + side * t]
    bottom = np.c_[x + side - side * t, np.full(n, y + side)]
    left = np.c_[np.full(n, x), y + side - side * t]
    return Polygon(np.vstack([top, right, bottom, left]))


@dataclass
class ProjectFixture:
    """A model with two images; ``ids`` names the annotations of the first image."""

    model: ProjectModel
    history: History
    radiographs: dict[str, Radiograph]
    image_id: str = "img-1"
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def radiograph(self) -> Radiograph:
        return self.radiographs[self.image_id]

    def ann(self, key: str) -> Annotation:
        return self.model.annotation(self.ids[key])


@pytest.fixture
def project() -> ProjectFixture:
    """img-1 (512x512, 0.2 mm PixelSpacing): a proposed screw polygon (model, score 0.87), a
    human-drawn VCF polygon, a proposed fracture box and a rejected screw; img-2 (no spacing):
    one proposed screw. Loaded with ``model.load`` so the history starts empty."""
    model = ProjectModel()
    rgs = {
        "img-1": synthetic_radiograph(seed=1),
        "img-2": synthetic_radiograph(seed=2, spacing=None),
    }
    for i, (image_id, rg) in enumerate(rgs.items()):
        status = ImageStatus.PRE_ANNOTATED if i == 0 else ImageStatus.NEW
        model.put_image(
            ImageRecord(image_id, rg.path, width=rg.columns, height=rg.rows, status=status)
        )
    pred = Prediction("locking_screw", 0.87, square(160, 200, 80, 3), "fake", "1")
    screw = Annotation.from_prediction(pred, image_id="img-1")
    vcf = Annotation.human(
        image_id="img-1",
        category="vertebral_compression_fracture",
        shape=Polygon([(300, 300), (400, 310), (390, 400), (310, 390)]),
        attributes={"vertebra_level": "L1"},
    )
    box = Annotation.from_prediction(
        Prediction("fracture", 0.64, Box(60, 380, 180, 470), "fake", "1"), image_id="img-1"
    )
    rejected = Annotation.from_prediction(
        Prediction("cortical_screw", 0.31, square(400, 60, 60, 1), "fake", "1"),
        image_id="img-1",
    )
    rejected = set_state([rejected], ReviewState.REJECTED, user="fixture").after[0]
    other = Annotation.from_prediction(
        Prediction("cortical_screw", 0.55, square(100, 100, 50, 2), "fake", "1"), image_id="img-2"
    )
    model.load([], [screw, vcf, box, rejected, other])
    history = History(model)
    ids = {"screw": screw.id, "vcf": vcf.id, "box": box.id, "rejected": rejected.id}
    ids["other"] = other.id
    return ProjectFixture(model, history, rgs, "img-1", ids)


@pytest.fixture
def canvas(qtbot, project: ProjectFixture):  # type: ignore[no-untyped-def]
    """A shown 800x600 CanvasView on img-1 of ``project``, fitted, select tool."""
    from orthogui.ui.canvas import CanvasView

    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.attach(project.model, project.history, user="tester")
    view.set_image(project.radiograph)
    view.show_annotations_of(project.image_id)
    view.show()
    qtbot.waitExposed(view)
    view.fit()
    view.setFocus()
    return view
