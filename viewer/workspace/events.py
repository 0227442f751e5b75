"""A tiny event emitter, so that a model can tell its views that it changed without knowing them.

napari's shape: the model owns a group of named emitters (``session.events.case_changed``); a view
connects a callback to the ones it shows; the model emits after it changed. Standard library only and no
Qt, so the model stays testable without a display and the window is one subscriber among others.

Callbacks run synchronously, in the order they were connected, on the thread that emits (the window's
models are changed on the GUI thread only). An exception in a callback propagates to the emitter's
caller: a broken view must be seen, not silently skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

Callback = Callable[..., Any]


class EventEmitter:
    """One kind of event: ``connect(cb)``, ``disconnect(cb)``, ``emit(*args)`` calls every ``cb(*args)``."""

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callback] = []
        self._blocked = 0

    def connect(self, callback: Callback) -> Callback:
        """Call ``callback`` on every emit (once, however often it is connected); returns it (a decorator)."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callback | None = None) -> None:
        """Stop calling ``callback`` (every callback when None); unknown callbacks are ignored."""
        if callback is None:
            self._callbacks.clear()
        elif callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        if self._blocked:
            return
        for callback in list(self._callbacks):  # a callback may disconnect itself
            callback(*args)

    @contextlib.contextmanager
    def blocked(self) -> Iterator[None]:
        """No emits inside the block (a batch of changes announced once, afterwards, by the caller)."""
        self._blocked += 1
        try:
            yield
        finally:
            self._blocked -= 1

    def __len__(self) -> int:
        return len(self._callbacks)

    def __repr__(self) -> str:
        return f"<EventEmitter {self.name}: {len(self)} callbacks>"


class EmitterGroup:
    """Named emitters as attributes: ``EmitterGroup("a", "b").a.connect(cb)``."""

    def __init__(self, *names: str):
        self._names = tuple(names)
        for name in names:
            setattr(self, name, EventEmitter(name))

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def __getitem__(self, name: str) -> EventEmitter:
        if name not in self._names:
            raise KeyError(name)
        emitter: EventEmitter = getattr(self, name)
        return emitter

    def disconnect_all(self) -> None:
        for name in self._names:
            self[name].disconnect()


__all__ = ["Callback", "EmitterGroup", "EventEmitter"]
