"""Annotations: one region with category, attributes, provenance and per-shape review state.

Also the model's side of the story: a ``Prediction`` is what a model said; it becomes an
``Annotation`` (state ``PROPOSED``) that remembers the prediction it came from.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from orthogui.core.geometry import Box, Polygon, Shape


class ReviewState(StrEnum):
    """Where a finding stands in review."""

    PROPOSED = "proposed"  # made by a model, not looked at yet
    ACCEPTED = "accepted"  # confirmed as the model made it (or as a human drew it)
    CORRECTED = "corrected"  # changed by the expert (geometry, category or attributes)
    REJECTED = "rejected"  # the expert says it is not there; kept for training as a negative


@dataclass(frozen=True)
class Provenance:
    """Who made the region: a human, or a model (name, version, score)."""

    source: str  # "human" | "model" | "import"
    model_name: str = ""
    model_version: str = ""
    score: float | None = None

    @classmethod
    def human(cls) -> Provenance:
        return cls("human")

    @property
    def is_model(self) -> bool:
        return self.source == "model"


@dataclass(frozen=True)
class Review:
    """A review state with who set it and when (ISO 8601 UTC, empty if never reviewed)."""

    state: ReviewState = ReviewState.PROPOSED
    by: str = ""
    at: str = ""


# Attribute of a typed finding (e.g. a screw): the model's probability of each type.
TYPE_PROBABILITIES = "type_probabilities"


def ranked_types(attributes: dict[str, Any]) -> list[tuple[str, float]]:
    """The model's type probabilities of a finding, most likely first (empty if none)."""
    raw = attributes.get(TYPE_PROBABILITIES)
    if not isinstance(raw, dict):
        return []
    pairs = [(str(k), float(v)) for k, v in raw.items() if isinstance(v, int | float)]
    return sorted(pairs, key=lambda kv: -kv[1])


@dataclass(frozen=True)
class Prediction:
    """One model output in image pixels: plain data, produced by ``orthogui.ml``."""

    category: str
    score: float
    shape: Shape
    model_name: str = ""
    model_version: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Annotation:
    """One region on one image. Immutable: edits produce a new value with the same ``id``."""

    id: str
    image_id: str
    category: str
    shape: Shape
    provenance: Provenance = field(default_factory=Provenance.human)
    review: Review = field(default_factory=Review)
    attributes: dict[str, Any] = field(default_factory=dict)
    # What the model originally said (category and shape), kept beside the expert's result.
    original_category: str | None = None
    original_shape: Shape | None = None

    @classmethod
    def from_prediction(cls, prediction: Prediction, *, image_id: str) -> Annotation:
        return cls(
            id=new_id(),
            image_id=image_id,
            category=prediction.category,
            shape=prediction.shape,
            provenance=Provenance(
                "model", prediction.model_name, prediction.model_version, prediction.score
            ),
            review=Review(ReviewState.PROPOSED),
            attributes=dict(prediction.attributes),
            original_category=prediction.category,
            original_shape=prediction.shape,
        )

    @classmethod
    def human(
        cls,
        *,
        image_id: str,
        category: str,
        shape: Shape,
        attributes: dict[str, Any] | None = None,
    ) -> Annotation:
        """A region drawn by the expert: accepted as soon as it exists."""
        return cls(
            id=new_id(),
            image_id=image_id,
            category=category,
            shape=shape,
            provenance=Provenance.human(),
            review=Review(ReviewState.ACCEPTED),
            attributes=dict(attributes or {}),
        )

    def evolve(self, **changes: Any) -> Annotation:
        return replace(self, **changes)

    @property
    def is_box(self) -> bool:
        return isinstance(self.shape, Box)

    @property
    def is_polygon(self) -> bool:
        return isinstance(self.shape, Polygon)

    @property
    def score(self) -> float | None:
        return self.provenance.score
