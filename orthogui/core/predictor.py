"""What the GUI and the services need of a model: the ``Predictor`` protocol.

``orthogui.ml`` implements it with Mask R-CNN; tests implement it with known polygons. Callers
never care which one they got.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from orthogui.core.annotation import Prediction
from orthogui.core.radiograph import Radiograph


@runtime_checkable
class Predictor(Protocol):
    """Turns one radiograph into findings in image pixels. May be slow; never call on the GUI
    thread. Implementations must be safe to call from one worker thread."""

    @property
    def model_name(self) -> str: ...

    @property
    def model_version(self) -> str: ...

    def predict(self, radiograph: Radiograph) -> list[Prediction]: ...
