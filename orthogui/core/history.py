"""Unlimited undo/redo over commands, with merging and grouping.

Every change the history makes is announced by ``changed`` with a ``HistoryEvent``; the
project store listens and writes the touched rows and the journal in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from psygnal import Signal

from orthogui.core.commands import Command, CompositeCommand
from orthogui.core.project import ProjectModel

EventKind = Literal["push", "merge", "undo", "redo"]


@dataclass(frozen=True)
class HistoryEvent:
    """What happened: ``command`` is the step as it now stands on the stack.

    For ``merge`` the new combined command replaced the top of the stack.
    """

    kind: EventKind
    command: Command
    index: int  # number of applied steps after the event


class History:
    """A linear undo stack of applied commands followed by undone (redoable) ones."""

    changed = Signal(HistoryEvent)

    def __init__(self, model: ProjectModel) -> None:
        self.model = model
        self._stack: list[Command] = []
        self._index = 0  # commands [0, index) are applied
        self._group: list[Command] | None = None
        self._group_label = ""
        self._merge_open = False

    # -- queries --------------------------------------------------------------------------
    @property
    def index(self) -> int:
        return self._index

    def __len__(self) -> int:
        return len(self._stack)

    def commands(self) -> list[Command]:
        return list(self._stack)

    def can_undo(self) -> bool:
        return self._index > 0 and self._group is None

    def can_redo(self) -> bool:
        return self._index < len(self._stack) and self._group is None

    def undo_command(self) -> Command | None:
        """The step ``undo`` would take back, or None."""
        return self._stack[self._index - 1] if self.can_undo() else None

    def redo_command(self) -> Command | None:
        """The step ``redo`` would apply again, or None."""
        return self._stack[self._index] if self.can_redo() else None

    def undo_label(self) -> str:
        return self._stack[self._index - 1].label if self.can_undo() else ""

    def redo_label(self) -> str:
        return self._stack[self._index].label if self.can_redo() else ""

    # -- changes --------------------------------------------------------------------------
    def push(self, command: Command) -> None:
        """Apply a command and record it (inside a group: collect it for the group)."""
        command.apply(self.model)
        if self._group is not None:
            self._group.append(command)
            return
        self._record(command)

    def _record(self, command: Command) -> None:
        if self._merge_open and self._index == len(self._stack) and self._index > 0:
            merged = self._stack[self._index - 1].merge(command)
            if merged is not None:
                self._stack[self._index - 1] = merged
                self.changed.emit(HistoryEvent("merge", merged, self._index))
                return
        del self._stack[self._index :]
        self._stack.append(command)
        self._index += 1
        self._merge_open = True
        self.changed.emit(HistoryEvent("push", command, self._index))

    def close_merge(self) -> None:
        """End the current gesture: the next push starts a new step even if mergeable."""
        self._merge_open = False

    @contextmanager
    def group(self, label: str) -> Iterator[None]:
        """Collect every push inside the block into one undo step."""
        if self._group is not None:  # nested groups join the outer one
            yield
            return
        self._group = []
        self._group_label = label
        try:
            yield
        except BaseException:
            for c in reversed(self._group):
                c.revert(self.model)
            self._group = None
            raise
        children, self._group = self._group, None
        if children:
            self._merge_open = False
            self._record(
                children[0] if len(children) == 1 else CompositeCommand(tuple(children), label)
            )
            self._merge_open = False

    def undo(self) -> bool:
        if not self.can_undo():
            return False
        self._index -= 1
        cmd = self._stack[self._index]
        cmd.revert(self.model)
        self._merge_open = False
        self.changed.emit(HistoryEvent("undo", cmd, self._index))
        return True

    def redo(self) -> bool:
        if not self.can_redo():
            return False
        cmd = self._stack[self._index]
        cmd.apply(self.model)
        self._index += 1
        self._merge_open = False
        self.changed.emit(HistoryEvent("redo", cmd, self._index))
        return True

    def restore(self, commands: list[Command], index: int) -> None:
        """Adopt a stack read back from the store; the model already holds its state."""
        if not 0 <= index <= len(commands):
            raise ValueError(f"history index {index} outside 0..{len(commands)}")
        self._stack = list(commands)
        self._index = index
        self._merge_open = False
