"""Finding categories: what a region can be, which shape it takes, its colour and attributes.

The default set covers the five screw types, bone fractures and vertebral compression
fractures; a project may define its own set (stored with the project).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum


class ShapeKind(StrEnum):
    """Which geometry a category is drawn with by default."""

    POLYGON = "polygon"
    BOX = "box"


@dataclass(frozen=True)
class AttributeSpec:
    """An attribute a category's annotations carry, with its allowed values (empty = free)."""

    name: str
    choices: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class Category:
    """One kind of finding. ``id`` is stable and is the COCO category id."""

    id: int
    name: str
    shape: ShapeKind
    color: str  # "#rrggbb"
    group: str = ""  # e.g. "screw": categories of one group can replace each other (keys 1-5)
    shortcut: str = ""
    attributes: tuple[AttributeSpec, ...] = ()
    supercategory: str = ""

    @property
    def display_name(self) -> str:
        return self.name.replace("_", " ")


SCREW_GROUP = "screw"
VERTEBRA_LEVELS: tuple[str, ...] = ("T11", "T12", "L1", "L2", "L3", "L4")


@dataclass(frozen=True)
class CategorySet:
    """An ordered, validated set of categories (unique ids and names)."""

    categories: tuple[Category, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        ids = [c.id for c in self.categories]
        names = [c.name for c in self.categories]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate category ids in {ids}")
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate category names in {names}")

    def __iter__(self) -> Iterator[Category]:
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.categories)

    def by_name(self, name: str) -> Category:
        for c in self.categories:
            if c.name == name:
                return c
        raise KeyError(f"unknown category {name!r}; known: {[c.name for c in self.categories]}")

    def by_id(self, category_id: int) -> Category:
        for c in self.categories:
            if c.id == category_id:
                return c
        raise KeyError(f"unknown category id {category_id}")

    def group(self, group: str) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if c.group == group)

    def names(self) -> list[str]:
        return [c.name for c in self.categories]


_LEVEL = AttributeSpec("vertebra_level", VERTEBRA_LEVELS, required=True)

DEFAULT_CATEGORIES = CategorySet(
    (
        Category(1, "cortical_screw", ShapeKind.POLYGON, "#e6194b", SCREW_GROUP, "1", (), "screw"),
        Category(
            2, "cancellous_screw", ShapeKind.POLYGON, "#3cb44b", SCREW_GROUP, "2", (), "screw"
        ),
        Category(3, "locking_screw", ShapeKind.POLYGON, "#4363d8", SCREW_GROUP, "3", (), "screw"),
        Category(
            4, "cannulated_screw", ShapeKind.POLYGON, "#f58231", SCREW_GROUP, "4", (), "screw"
        ),
        Category(
            5, "compression_screw", ShapeKind.POLYGON, "#911eb4", SCREW_GROUP, "5", (), "screw"
        ),
        Category(6, "fracture", ShapeKind.BOX, "#ffe119", "", "F", (), "fracture"),
        Category(
            7,
            "vertebral_compression_fracture",
            ShapeKind.POLYGON,
            "#42d4f4",
            "",
            "V",
            (_LEVEL,),
            "fracture",
        ),
    )
)
