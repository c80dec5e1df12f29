"""The one error base for "this file is unusable, and here is why".

Every error that names a file (a radiograph, a project, a model card, a COCO file, a training
job) derives from ``PathError``: ``str()`` is ``"<path>: <reason>"`` and both parts stay
available as attributes, so the UI can show the reason and offer the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class PathError(Exception):
    """A named file could not be used. ``str()`` is ``"path: reason"``."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type[PathError], tuple[Any, ...]]:
        # pickles (process pools, multiprocessing queues) with both arguments; a subclass
        # whose constructor takes other arguments returns those instead
        return (type(self), (self.path, self.reason))
