"""Measurements in the core: values, validation, commands, undo/redo and their JSON forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orthogui.core.commands import (
    AddMeasurements,
    RemoveMeasurements,
    UpdateMeasurements,
    command_from_json,
)
from orthogui.core.history import History
from orthogui.core.measurement import (
    Measurement,
    angle_degrees,
    measurement_from_dict,
    measurement_to_dict,
    value_of,
)
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.core.radiograph import Radiograph


def rg(spacing: tuple[float, float] | None, source: str = "PixelSpacing") -> Radiograph:
    return Radiograph(
        "x.dcm",
        "dicom",
        np.zeros((8, 8), np.uint16),
        12,
        pixel_spacing=spacing,
        spacing_source=source if spacing else "none",  # type: ignore[arg-type]
    )


def model() -> ProjectModel:
    m = ProjectModel()
    m.put_image(ImageRecord("im0", "a.png"))
    return m


def test_values_in_mm_px_and_degrees() -> None:
    ruler = Measurement.new(image_id="im0", kind="length", points=[(0, 0), (30, 40)])
    assert value_of(ruler, rg((0.5, 0.5))) == (25.0, "25.0 mm")
    assert value_of(ruler, None) == (50.0, "50.0 px — no pixel spacing")
    assert "at detector" in value_of(ruler, rg((0.5, 0.5), "ImagerPixelSpacing"))[1]
    right = Measurement.new(image_id="im0", kind="angle", points=[(10, 0), (0, 0), (0, 10)])
    assert value_of(right, None) == (pytest.approx(90.0), "90.0°")
    # Anisotropic spacing: the angle in the patient, not on the screen.
    assert angle_degrees((1, 0), (0, 0), (1, 1), rg((2.0, 1.0))) == pytest.approx(
        math.degrees(math.atan(2.0))
    )
    assert math.isnan(angle_degrees((0, 0), (0, 0), (1, 1)))


def test_points_must_fit_the_kind() -> None:
    with pytest.raises(ValueError, match="3 points"):
        Measurement.new(image_id="im0", kind="angle", points=[(0, 0), (1, 1)])
    with pytest.raises(ValueError, match="unknown"):
        measurement_from_dict({"id": "m", "image_id": "i", "kind": "area", "points": []})


def test_commands_undo_redo_and_json_round_trip() -> None:
    m = model()
    h = History(m)
    ruler = Measurement.new(image_id="im0", kind="length", points=[(0, 0), (3, 4)], created_by="u")
    assert measurement_from_dict(measurement_to_dict(ruler)) == ruler
    moved = ruler.with_point(1, 6, 8)
    steps = [
        AddMeasurements((ruler,)),
        UpdateMeasurements((ruler,), (moved,)),
        RemoveMeasurements((moved,)),
    ]
    for c in steps:
        h.push(c)
        assert command_from_json(c.to_json()) == c
        assert c.measurement_ids() == {ruler.id} and c.annotation_ids() == set()
        assert c.touched_images() == ("im0",) and c.image_ids() == set()
    assert m.measurements() == [] and m.annotations() == []
    h.undo()
    assert m.measurements("im0") == [moved]
    h.undo()
    assert m.measurement(ruler.id) == ruler
    h.undo()
    assert m.get_measurement(ruler.id) is None
    for _ in steps:
        h.redo()
    assert m.measurements() == []


def test_a_measurement_needs_its_image() -> None:
    ghost = Measurement.new(image_id="nope", kind="length", points=[(0, 0), (1, 1)])
    with pytest.raises(KeyError, match="unknown image"):
        AddMeasurements((ghost,)).apply(model())
