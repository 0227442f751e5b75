"""Keyboard navigation between the docks: F6 / Shift+F6 give the keyboard focus to the next / previous
visible dock (and the hex view of the current tab, as one stop), raising a tabbed dock first — so every
dock is reachable without a mouse; inside a dock Tab moves between its widgets as usual."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QWidget


def stops(window: Any) -> list[QWidget]:
    """Where F6 goes, in order: the current hex view, then each shown dock (tabbed ones included)."""
    out: list[QWidget] = []
    if window.hex is not None:
        out.append(window.hex)
    for dock in window.docks:
        if not dock.isHidden() and dock.widget() is not None:
            out.append(dock)
    return out


def focus_target(widget: QWidget) -> QWidget:
    """The widget that takes the focus for ``widget`` (a dock: its first focusable child)."""
    if isinstance(widget, QDockWidget):
        inner = widget.widget()
        if inner.focusPolicy() != Qt.FocusPolicy.NoFocus:
            return inner
        for child in inner.findChildren(QWidget):
            if child.isVisibleTo(inner) and child.focusPolicy() & Qt.FocusPolicy.TabFocus and child.isEnabled():
                return child
        return inner
    return widget


def current_stop(window: Any, chain: list[QWidget]) -> int:
    focus = QApplication.focusWidget()
    for i, w in enumerate(chain):
        if focus is not None and (focus is w or w.isAncestorOf(focus)):
            return i
    return -1


def cycle(window: Any, step: int = 1) -> QWidget | None:
    """Move the keyboard focus to the next (``step`` 1) or previous (-1) stop; the dock or view focused."""
    chain = stops(window)
    if not chain:
        return None
    here = current_stop(window, chain)
    if here < 0:  # the focus is elsewhere (a menu, another window): go on from the last stop
        last = getattr(window, "_focus_stop", None)
        here = next((k for k, w in enumerate(chain) if w is last), -1)
    i = (here + step) % len(chain)
    target = chain[i]
    window._focus_stop = target
    if isinstance(target, QDockWidget):
        target.raise_()  # a dock tabbed behind another comes to the front
    focus_target(target).setFocus(Qt.FocusReason.ShortcutFocusReason)
    return target


__all__ = ["cycle", "focus_target", "stops"]
