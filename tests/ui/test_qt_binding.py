"""The Qt binding must not leak or drop references: PySide6 6.12.0 drops one reference to None
per void call on Python 3.11 and kills the app after a few thousand calls (fatal none_dealloc).
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtWidgets import QWidget


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_void_calls_keep_none_refcount(qtbot) -> None:
    w = QWidget()
    qtbot.addWidget(w)
    before = sys.getrefcount(None)
    for i in range(500):
        w.resize(100 + i % 3, 100)
    # Other threads may move the count a little; a broken binding moves it by -500.
    assert sys.getrefcount(None) - before > -50
