"""Window geometry that fits the screen, without Qt: a remembered geometry clamped to where it is shown.

A window saved on a big monitor, or before the desktop's scaling went to 1.5x, comes back larger than
the screen (its title bar off the top, its status bar below the bottom). :func:`clamp_rect` shrinks it
to the available area and moves it inside; rectangles are ``(x, y, width, height)``.
"""

from __future__ import annotations

Rect = tuple[int, int, int, int]
MIN_SIZE = (640, 480)


def clamp_rect(rect: Rect, screen: Rect) -> Rect:
    """``rect`` made to fit inside ``screen`` (the screen's available area): no larger, fully inside."""
    x, y, w, h = rect
    sx, sy, sw, sh = screen
    w = max(min(w, sw), min(MIN_SIZE[0], sw))
    h = max(min(h, sh), min(MIN_SIZE[1], sh))
    x = min(max(x, sx), sx + sw - w)
    y = min(max(y, sy), sy + sh - h)
    return x, y, w, h


__all__ = ["clamp_rect"]
