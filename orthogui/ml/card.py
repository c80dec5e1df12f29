"""Model cards: what a model is, how to feed it and read it, and which weights belong to it.

Plain data and JSON validation only (no torch), so the GUI and the service can list models.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from orthogui.core.categories import CategorySet, ShapeKind
from orthogui.core.errors import PathError
from orthogui.io.fileops import atomic_write_text

CARD_FORMAT = "orthogui-model-card/1"
WindowMode = Literal["default", "percentile"]
WINDOW_MODES: tuple[str, ...] = ("default", "percentile")


class ModelError(PathError):
    """A model card or weights file is unusable. ``str()`` names the file and the reason."""


class ModelCardError(ModelError):
    """A card is malformed: bad JSON, a missing field or a value out of range."""


class ModelLoadError(ModelError):
    """Weights do not match their card (architecture, class count, checksum) or cannot be read."""


@dataclass(frozen=True)
class CardCategory:
    """One model output label and the project category it becomes."""

    label: int  # the model's label, 1..num_classes-1 (0 is background)
    name: str  # the model's own name for it
    project_category: str  # the project category name predictions get
    shape: ShapeKind = ShapeKind.POLYGON  # BOX: the prediction is the box, the mask is ignored
    # Project categories this one label stands for (e.g. the five screw types under "screw"):
    # a type classifier picks among them; without one, predictions get ``project_category``.
    covers: tuple[str, ...] = ()

    @property
    def project_categories(self) -> tuple[str, ...]:
        """Every project category this label's training data may carry."""
        return self.covers or (self.project_category,)


@dataclass(frozen=True)
class Preprocessing:
    """How a radiograph becomes the network input; training uses the same values."""

    window: WindowMode = "default"  # default: the file's first window, else full range
    percentiles: tuple[float, float] = (0.5, 99.5)  # for window == "percentile"
    min_size: int = 1024
    max_size: int = 1024
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Postprocessing:
    """Detection thresholds and how masks become polygons (pixels of the original image)."""

    score_threshold: float = 0.5
    nms_iou: float = 0.5
    mask_threshold: float = 0.5
    polygon_tolerance: float = 1.0
    min_area: float = 16.0
    max_detections: int = 100
    # Box categories (fracture): a box mostly inside a higher-scoring one of its category is
    # the same finding (intersection over the smaller box above this), and at most
    # ``max_boxes_per_category`` boxes of one category are proposed per image.
    box_containment: float = 0.7
    max_boxes_per_category: int = 4
    # Mask categories (screws, vertebral fractures): a mask that covers more than this share of
    # a higher-scoring mask of its category, or is covered that much by it, is the same finding
    # proposed twice (a screw found whole and again by half); 1.0 keeps every mask.
    mask_containment: float = 0.8
    # Box categories: where above 0, a box is redrawn around the cells of its own mask head
    # output at or above this probability (the mask outlines a fracture's extent more tightly
    # than the box regression does); 0 keeps the regressed box.
    box_from_mask: float = 0.0
    # Mask categories: where above 0, a detection's score is multiplied by the mean probability
    # of its mask's cells at or above ``mask_threshold``, raised to this power (an outline the
    # mask head is unsure of ranks lower); ``score_threshold`` applies to the product.
    mask_score_power: float = 0.0
    # Box categories (fracture) are shown from this score where it is above ``score_threshold``
    # (their scores are not weighted by an outline); 0: ``score_threshold`` for every category.
    box_score_threshold: float = 0.0


@dataclass(frozen=True)
class TypeStage:
    """The second stage that types a grouped label's detections (e.g. "screw") from a crop
    along the object's long axis at full resolution (``orthogui.ml.screw_type``)."""

    categories: tuple[str, ...]  # the classifier's outputs, in order (project categories)
    weights_file: str  # relative to the card's folder
    weights_sha256: str
    variant: str = "lite0"  # EfficientNet-Lite size
    crop_length: int = 256
    crop_width: int = 64
    crop_context: float = 1.2
    crop_diameters: float = 2.0  # see ``orthogui.ml.screw_type.CropSpec``
    metrics: dict[str, Any] = field(default_factory=dict)
    training_data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelCard:
    """A model: architecture, categories, input and output settings, provenance, weights."""

    name: str
    version: str
    architecture: str
    num_classes: int  # including background
    categories: tuple[CardCategory, ...]
    weights_file: str  # relative to the card's folder
    weights_sha256: str
    norm_layer: str = "batch_norm"  # recorded so training from scratch knows what it gets
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    postprocessing: Postprocessing = field(default_factory=Postprocessing)
    training_data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    description: str = ""
    type_stage: TypeStage | None = None
    source: Path | None = field(default=None, compare=False)  # where the card was read from

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ModelCardError(self.source or self.name, "; ".join(problems))

    @property
    def weights_path(self) -> Path:
        """The weights file, resolved against the card's folder."""
        return self._folder / self.weights_file

    @property
    def type_weights_path(self) -> Path | None:
        """The type stage's weights file, if the card has a type stage."""
        return None if self.type_stage is None else self._folder / self.type_stage.weights_file

    @property
    def _folder(self) -> Path:
        return self.source.parent if self.source is not None else Path.cwd()

    def category_for_label(self) -> dict[int, CardCategory]:
        return {c.label: c for c in self.categories}

    def check_categories(self, categories: CategorySet) -> None:
        """Raise ``ModelCardError`` unless every mapped category exists in ``categories``."""
        unknown = [
            name
            for c in self.categories
            for name in (c.project_category, *c.covers)
            if name not in categories
        ]
        if unknown:
            raise ModelCardError(
                self.source or self.name, f"categories not in the project: {unknown}"
            )

    def with_weights(self, weights_file: str, sha256: str) -> ModelCard:
        return replace(self, weights_file=weights_file, weights_sha256=sha256)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the card (``source`` is not stored)."""
        d = asdict(self)
        d.pop("source")
        d["categories"] = [_category_json(c) for c in self.categories]
        d["weights"] = {"file": d.pop("weights_file"), "sha256": d.pop("weights_sha256")}
        if self.type_stage is None:
            d.pop("type_stage")
        else:
            d["type_stage"]["categories"] = list(self.type_stage.categories)
        return {"format": CARD_FORMAT, **d}


def _category_json(c: CardCategory) -> dict[str, Any]:
    d = {**asdict(c), "shape": str(c.shape), "covers": list(c.covers)}
    if not c.covers:
        d.pop("covers")
    return d


def _problems(card: ModelCard) -> list[str]:
    out: list[str] = []
    if not card.name.strip():
        out.append("name is empty")
    if not card.version.strip():
        out.append("version is empty")
    if card.num_classes < 2:
        out.append(f"num_classes must be >= 2 (background + 1), got {card.num_classes}")
    labels = [c.label for c in card.categories]
    if sorted(labels) != list(range(1, card.num_classes)):
        out.append(
            f"category labels {sorted(labels)} must be exactly 1..{card.num_classes - 1} "
            f"for num_classes={card.num_classes}"
        )
    if len(card.weights_sha256) != 64 or any(
        ch not in "0123456789abcdef" for ch in card.weights_sha256
    ):
        out.append("weights.sha256 must be 64 lower-case hex digits")
    pre, post = card.preprocessing, card.postprocessing
    if pre.window not in WINDOW_MODES:
        out.append(f"preprocessing.window must be one of {WINDOW_MODES}, got {pre.window!r}")
    lo, hi = pre.percentiles
    if not 0.0 <= lo < hi <= 100.0:
        out.append(f"preprocessing.percentiles must satisfy 0 <= lo < hi <= 100, got {lo}, {hi}")
    if not 0 < pre.min_size <= pre.max_size:
        out.append(
            f"preprocessing sizes must satisfy 0 < min_size <= max_size, got {pre.min_size}, {pre.max_size}"
        )
    if any(s <= 0 for s in pre.std):
        out.append("preprocessing.std must be positive")
    for key in (
        "score_threshold",
        "nms_iou",
        "mask_threshold",
        "box_containment",
        "mask_containment",
        "box_from_mask",
        "box_score_threshold",
    ):
        v = getattr(post, key)
        if not 0.0 <= v <= 1.0:
            out.append(f"postprocessing.{key} must be in [0, 1], got {v}")
    if (
        post.polygon_tolerance < 0
        or post.min_area < 0
        or post.max_detections < 1
        or post.max_boxes_per_category < 1
        or not 0.0 <= post.mask_score_power <= 8.0
    ):
        out.append(
            "postprocessing tolerance/min_area must be >= 0, max_detections and "
            "max_boxes_per_category >= 1, and mask_score_power in [0, 8]"
        )
    if any(not math.isfinite(v) for v in card.metrics.values()):
        out.append("metrics must be finite numbers")
    stage = card.type_stage
    if stage is not None:
        if len(stage.categories) < 2:
            out.append("type_stage.categories needs at least two types")
        grouped = [c for c in card.categories if c.covers]
        if not grouped or any(set(c.covers) - set(stage.categories) for c in grouped):
            out.append("type_stage.categories must include every category a label covers")
        if stage.crop_length < 16 or stage.crop_width < 16 or stage.crop_context < 1.0:
            out.append("type_stage crop sizes must be >= 16 px and crop_context >= 1")
        if not 0.0 <= stage.crop_diameters <= 16.0:
            out.append("type_stage.crop_diameters must be between 0 and 16")
    return out


def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise ValueError(f"missing field {where}{key}")
    value = obj[key]
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ValueError(f"field {where}{key} has the wrong type ({type(value).__name__})")
    return value


def _number_tuple(value: Any, n: int, where: str) -> tuple[float, ...]:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != n
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"field {where} must be a list of {n} numbers")
    return tuple(float(v) for v in value)


def _type_stage(obj: Any) -> TypeStage | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise ValueError("field type_stage must be an object")
    where = "type_stage."
    categories = _get(obj, "categories", list, where)
    if not all(isinstance(c, str) for c in categories):
        raise ValueError("field type_stage.categories must be a list of names")
    defaults = TypeStage((), "", "")
    return TypeStage(
        categories=tuple(categories),
        weights_file=_get(obj, "weights_file", str, where),
        weights_sha256=_get(obj, "weights_sha256", str, where),
        variant=str(obj.get("variant", defaults.variant)),
        crop_length=int(obj.get("crop_length", defaults.crop_length)),
        crop_width=int(obj.get("crop_width", defaults.crop_width)),
        crop_context=float(obj.get("crop_context", defaults.crop_context)),
        crop_diameters=float(obj.get("crop_diameters", defaults.crop_diameters)),
        metrics=dict(_get(obj, "metrics", dict, where)) if "metrics" in obj else {},
        training_data=dict(_get(obj, "training_data", dict, where))
        if "training_data" in obj
        else {},
    )


def card_from_json(obj: Any, *, source: Path | None = None) -> ModelCard:
    """Validate a parsed card object; errors name ``source`` and the field.

    Raises
    ------
    ModelCardError
        On any missing, mistyped or out-of-range field.
    """
    where_file = source or "<model card>"
    try:
        if not isinstance(obj, dict):
            raise ValueError("a model card must be a JSON object")
        fmt = obj.get("format", CARD_FORMAT)
        if fmt != CARD_FORMAT:
            raise ValueError(f"unknown card format {fmt!r} (expected {CARD_FORMAT!r})")
        cats = []
        for i, c in enumerate(_get(obj, "categories", list, "")):
            if not isinstance(c, dict):
                raise ValueError(f"categories[{i}] must be an object")
            shape = _get(c, "shape", str, f"categories[{i}].") if "shape" in c else "polygon"
            if shape not in {s.value for s in ShapeKind}:
                raise ValueError(
                    f"field categories[{i}].shape must be polygon or box, got {shape!r}"
                )
            name = _get(c, "name", str, f"categories[{i}].")
            covers = c.get("covers", [])
            if not isinstance(covers, list) or not all(isinstance(m, str) for m in covers):
                raise ValueError(f"field categories[{i}].covers must be a list of names")
            cats.append(
                CardCategory(
                    label=_get(c, "label", int, f"categories[{i}]."),
                    name=name,
                    project_category=str(c.get("project_category", name)),
                    shape=ShapeKind(shape),
                    covers=tuple(covers),
                )
            )
        weights = _get(obj, "weights", dict, "")
        pre_obj = obj.get("preprocessing", {})
        post_obj = obj.get("postprocessing", {})
        if not isinstance(pre_obj, dict) or not isinstance(post_obj, dict):
            raise ValueError("preprocessing and postprocessing must be objects")
        pre_defaults = Preprocessing()
        pre = Preprocessing(
            window=cast(WindowMode, pre_obj.get("window", pre_defaults.window)),
            percentiles=cast(
                tuple[float, float],
                _number_tuple(
                    pre_obj.get("percentiles", list(pre_defaults.percentiles)),
                    2,
                    "preprocessing.percentiles",
                ),
            ),
            min_size=int(pre_obj.get("min_size", pre_defaults.min_size)),
            max_size=int(pre_obj.get("max_size", pre_defaults.max_size)),
            mean=cast(
                tuple[float, float, float],
                _number_tuple(
                    pre_obj.get("mean", list(pre_defaults.mean)), 3, "preprocessing.mean"
                ),
            ),
            std=cast(
                tuple[float, float, float],
                _number_tuple(pre_obj.get("std", list(pre_defaults.std)), 3, "preprocessing.std"),
            ),
        )
        post_defaults = asdict(Postprocessing())
        unknown = set(post_obj) - set(post_defaults)
        if unknown:
            raise ValueError(f"unknown postprocessing fields {sorted(unknown)}")
        post = Postprocessing(**{k: type(v)(post_obj.get(k, v)) for k, v in post_defaults.items()})
        metrics = obj.get("metrics", {})
        if not isinstance(metrics, dict):
            raise ValueError("field metrics must be an object of numbers")
        training_data = obj.get("training_data", {})
        if not isinstance(training_data, dict):
            raise ValueError("field training_data must be an object")
        return ModelCard(
            type_stage=_type_stage(obj.get("type_stage")),
            name=_get(obj, "name", str, ""),
            version=str(_get(obj, "version", (str, int, float), "")),
            architecture=_get(obj, "architecture", str, ""),
            num_classes=_get(obj, "num_classes", int, ""),
            categories=tuple(cats),
            weights_file=_get(weights, "file", str, "weights."),
            weights_sha256=_get(weights, "sha256", str, "weights."),
            norm_layer=str(obj.get("norm_layer", "batch_norm")),
            preprocessing=pre,
            postprocessing=post,
            training_data=dict(training_data),
            metrics={str(k): float(v) for k, v in metrics.items()},
            description=str(obj.get("description", "")),
            source=source,
        )
    except ModelCardError:
        raise
    except (ValueError, TypeError) as exc:
        raise ModelCardError(where_file, str(exc)) from exc


def load_card(path: str | Path) -> ModelCard:
    """Read and validate a card file.

    Raises
    ------
    ModelCardError
        The file is missing, not JSON, or fails validation (the message names the field).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelCardError(p, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise ModelCardError(p, f"cannot read the model card ({exc.strerror or exc})") from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelCardError(p, f"not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, absurd nesting
        raise ModelCardError(p, f"not valid JSON ({exc})") from exc
    return card_from_json(obj, source=p.resolve())


def save_card(card: ModelCard, path: str | Path) -> ModelCard:
    """Write ``card`` as JSON (atomically) and return it with ``source`` set to ``path``."""
    p = atomic_write_text(Path(path), json.dumps(card.to_json(), indent=2) + "\n")
    return replace(card, source=p.resolve())


def default_models_dir() -> Path:
    """``$ORTHOGUI_MODELS_DIR``, else the bundled models (``models/`` in the checkout, the
    ``orthogui_models`` data package when installed; see ``orthogui.paths``)."""
    env = os.environ.get("ORTHOGUI_MODELS_DIR")
    if env:
        return Path(env)
    from orthogui.paths import bundled_models_dir

    return bundled_models_dir()


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in version.split("."))


def scan_cards(
    models_dir: str | Path | None = None,
) -> tuple[list[ModelCard], list[ModelCardError]]:
    """Every card file of a folder: the valid cards by name then version, and one error per
    unreadable or invalid file (each naming the file and the reason), in file-name order."""
    folder = Path(models_dir) if models_dir is not None else default_models_dir()
    cards, bad = [], []
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            cards.append(load_card(p))
        except ModelCardError as exc:
            bad.append(exc)
    return sorted(cards, key=lambda c: (c.name, _version_key(c.version))), bad


def list_cards(
    models_dir: str | Path | None = None, *, problems: list[ModelCardError] | None = None
) -> list[ModelCard]:
    """All valid cards in a folder, by name then version.

    Each invalid card is skipped with a warning on the ``orthogui.ml.card`` logger naming the
    file and the reason (the command line prints it), and appended to ``problems`` when given
    (for the GUI to show); ``scan_cards`` returns both lists.
    """
    import logging

    cards, bad = scan_cards(models_dir)
    for exc in bad:
        logging.getLogger(__name__).warning("model card skipped: %s", exc)
    if problems is not None:
        problems.extend(bad)
    return cards


def find_card(name_or_path: str | Path, *, models_dir: str | Path | None = None) -> ModelCard:
    """A card by file path, else by name (newest version) in the models folder.

    Raises
    ------
    ModelCardError
        No card file at that path and no card of that name.
    """
    p = Path(name_or_path)
    if p.suffix == ".json" or p.exists():
        return load_card(p)
    matches = [c for c in list_cards(models_dir) if c.name == str(name_or_path)]
    if not matches:
        folder = Path(models_dir) if models_dir is not None else default_models_dir()
        raise ModelCardError(folder, f"no model card named {str(name_or_path)!r}")
    return matches[-1]
