"""What a main window and its controllers work with, built once by the composition root.

``Services`` bundles the open project's store, the reviewer, the app settings, the function
that reads a radiograph and the function that turns a model card into a predictor. ``app.py``
builds it once and hands it to the ``MainWindow``, which passes it to every controller; no
controller looks these up on the window. Opening another project swaps the whole object
(``for_project``): everything but the store carries over, the model loader included.

The ``ui`` layer never imports torch: the app passes ``MaskRCNNPredictor.from_card`` as the
model loader. A window built without one (tests, a broken install) gets ``no_model_loader``,
which refuses every card with a ``ModelLoadError`` that names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

from PySide6.QtCore import QSettings

from orthogui.core.predictor import Predictor
from orthogui.core.radiograph import Radiograph
from orthogui.io.store import ProjectStore
from orthogui.ml.card import ModelCard, ModelLoadError, default_models_dir

Reader = Callable[[Path], Radiograph]
"""Reads a radiograph file (decoders, LUTs); raises ``RadiographError`` naming the file."""


class ModelLoader(Protocol):
    """Turns a model card into a predictor (runs on a worker thread; may take seconds).

    ``score_threshold`` overrides the card's detection threshold (evaluation needs the low
    tail for AP); the app's loader is ``MaskRCNNPredictor.from_card``.
    """

    def __call__(self, card: ModelCard, /, *, score_threshold: float = ...) -> Predictor: ...


@runtime_checkable
class CardPredictor(Protocol):
    """A predictor that knows the model card it was loaded from (``MaskRCNNPredictor``)."""

    @property
    def card(self) -> ModelCard: ...


def predictor_card(predictor: Predictor | None) -> ModelCard | None:
    """The card of ``predictor``, or None (no model, or a predictor without a card)."""
    if isinstance(predictor, CardPredictor):
        card = predictor.card
        return card if isinstance(card, ModelCard) else None
    return None


def read_radiograph(path: Path) -> Radiograph:
    """The app's reader (lazy import: the decoders are heavy)."""
    from orthogui.io.readers import read_radiograph as read

    return read(path)


def no_model_loader(card: ModelCard, /, *, score_threshold: float = 0.0) -> Predictor:
    """The loader of a window built without one: refuses, naming the card."""
    raise ModelLoadError(card.source or card.name, "this window cannot load models (no loader)")


@dataclass(frozen=True)
class Services:
    """The open project and the app-wide collaborators of one main window."""

    store: ProjectStore
    user: str
    settings: QSettings | None = None
    reader: Reader = read_radiograph
    model_loader: ModelLoader = no_model_loader
    models_dir: Path = field(default_factory=default_models_dir)
    """Installed model cards (``$ORTHOGUI_MODELS_DIR`` or the shipped ``models/``)."""
    session_secrets: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Secrets kept for this session only (PACS passwords when no OS keyring is usable):
    never written to disk, shared by the windows of the session."""

    def app_settings(self) -> QSettings:
        """``settings``, else the app's own settings file (a window built without settings)."""
        if self.settings is not None:
            return self.settings
        from orthogui.ui.locations import config_dir

        return QSettings(str(config_dir() / "orthogui.ini"), QSettings.Format.IniFormat)

    def for_project(self, store: ProjectStore) -> Services:
        """The same reviewer, settings, reader, model loader and session secrets on another
        project."""
        return replace(self, store=store)
