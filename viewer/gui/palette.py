"""The one palette of the window: a colour per colour role, for a light and a dark theme.

Finding kinds do not have colours; they have a colour role in the registry of kinds
(:mod:`viewer.scan.kinds`: private-key, symmetric-key, token, password, context, entropy), turned into a
role by :func:`viewer.workspace.highlights.finding_role`. The hex view's own marks (the selected field, a
search hit, a bookmark) have roles of their own. Every widget that colours a finding (the hex view, the
findings table, the entropy plot's markers, the legend) asks here, so one kind has one colour everywhere
and a new kind needs no GUI change.

Colours are RGBA: semi-transparent, so overlapping highlights stay visible and the selection drawn on
top still shows what lies under it. The dark theme's are lighter and a little more opaque: the same
alpha over a dark base would make them murky.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QGuiApplication, QPalette

from viewer.scan.finding import Confidence

RGBA = tuple[int, int, int, int]

# role: (light theme, dark theme)
ROLE_COLOURS: dict[str, tuple[RGBA, RGBA]] = {
    "private-key": ((230, 40, 40, 110), (255, 95, 95, 140)),
    "symmetric-key": ((255, 140, 0, 120), (255, 170, 60, 140)),
    "token": ((200, 0, 160, 100), (235, 100, 215, 140)),
    "password": ((40, 170, 60, 110), (100, 215, 110, 130)),
    "entropy": ((0, 160, 175, 100), (60, 205, 215, 130)),
    "context": ((120, 140, 170, 90), (150, 170, 200, 110)),
    "other": ((160, 110, 60, 100), (200, 155, 100, 130)),
    # the hex view's own marks
    "field": ((60, 160, 255, 110), (90, 170, 255, 130)),
    "search": ((255, 235, 0, 150), (240, 220, 0, 120)),
    "bookmark": ((170, 90, 255, 110), (185, 130, 255, 140)),
}
ROLE_LABELS = {
    "private-key": "private key",
    "symmetric-key": "symmetric key",
    "token": "token",
    "password": "password",
    "entropy": "high entropy",
    "context": "public context",
    "other": "other",
    "field": "field",
    "search": "search hit",
    "bookmark": "bookmark",
}
DEFAULT_ROLE = "other"

# The confidence cell's background (dark text on it in both themes, so one table does).
CONFIDENCE_COLOURS = {
    Confidence.CONFIRMED: "#b9e4bc",  # green
    Confidence.HIGH: "#ffd89a",  # amber
    Confidence.MEDIUM: "#fff3b0",  # pale yellow
    Confidence.LOW: "#e6e6e6",  # grey
}


# The reviewer's verdict (a case's review status): coloured text, never a filled cell, so that it does not
# read like the scanner's confidence. (light theme, dark theme); unreviewed has none.
VERDICT_COLOURS: dict[str, tuple[str, str]] = {
    "confirmed": ("#b3261e", "#ff8a80"),  # a real secret: red
    "false-positive": ("#6b6b6b", "#a0a0a0"),  # set aside: grey
    "needs-more-information": ("#6a3fb5", "#c3a6ff"),  # open question: violet
}
VERDICT_MEANING = {
    "unreviewed": "nobody has looked at it yet",
    "confirmed": "a reviewer confirmed it is a real secret",
    "false-positive": "a reviewer found it is not a secret",
    "needs-more-information": "a reviewer could not decide yet",
}


def verdict_colour(status: str, dark: bool | None = None) -> QColor | None:
    """The text colour of a verdict in the current (or given) theme; None for unreviewed."""
    pair = VERDICT_COLOURS.get(status)
    if pair is None:
        return None
    return QColor(pair[1] if (is_dark() if dark is None else dark) else pair[0])


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether ``palette`` (default: the application's) is a dark theme: its window is darker than mid."""
    if palette is None:
        app = QGuiApplication.instance()
        if app is None:
            return False
        palette = QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def role_rgba(role: str, dark: bool | None = None) -> RGBA:
    """The RGBA of ``role`` in the light or dark theme (None: the application's current one)."""
    light, night = ROLE_COLOURS.get(role, ROLE_COLOURS[DEFAULT_ROLE])
    return night if (is_dark() if dark is None else dark) else light


def role_color(role: str, dark: bool | None = None, *, opaque: bool = False) -> QColor:
    """A new QColor for ``role`` (callers may change it). ``opaque`` for marks drawn on their own (the
    entropy plot's markers, legend swatches) rather than over bytes."""
    r, g, b, a = role_rgba(role, dark)
    return QColor(r, g, b, 255 if opaque else a)


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def confidence_colours(dark: bool | None = None) -> dict[Confidence, str]:
    """Backgrounds of the confidence cells, as ``#rrggbb`` (the same in both themes: dark text on them)."""
    return dict(CONFIDENCE_COLOURS)


def swatch_css(color: Any) -> str:
    """A CSS colour for a legend swatch: the colour, at least fairly opaque so it reads on any base."""
    c = QColor(color)
    return f"rgba({c.red()},{c.green()},{c.blue()},{max(c.alpha(), 160)})"


# -- the application palettes ---------------------------------------------------------------------------
DARK_ACTIVE: dict[QPalette.ColorRole, tuple[int, int, int]] = {
    QPalette.ColorRole.Window: (45, 45, 48), QPalette.ColorRole.WindowText: (220, 220, 220),
    QPalette.ColorRole.Base: (30, 30, 32), QPalette.ColorRole.AlternateBase: (40, 40, 44),
    QPalette.ColorRole.Text: (220, 220, 220), QPalette.ColorRole.Button: (55, 55, 58),
    QPalette.ColorRole.ButtonText: (220, 220, 220), QPalette.ColorRole.Highlight: (60, 110, 200),
    QPalette.ColorRole.HighlightedText: (255, 255, 255), QPalette.ColorRole.ToolTipBase: (60, 60, 64),
    QPalette.ColorRole.ToolTipText: (230, 230, 230), QPalette.ColorRole.PlaceholderText: (140, 140, 140),
    QPalette.ColorRole.Link: (120, 170, 255), QPalette.ColorRole.BrightText: (255, 110, 110),
    QPalette.ColorRole.Light: (75, 75, 80), QPalette.ColorRole.Midlight: (62, 62, 66),
    QPalette.ColorRole.Mid: (40, 40, 43), QPalette.ColorRole.Dark: (25, 25, 27), QPalette.ColorRole.Shadow: (10, 10, 10),
}
# Disabled: grey text on a flatter button, so a disabled combo, button or menu item reads as disabled
# (without these a Fusion dark palette draws disabled widgets exactly like enabled ones).
DARK_DISABLED: dict[QPalette.ColorRole, tuple[int, int, int]] = {
    QPalette.ColorRole.WindowText: (118, 118, 122), QPalette.ColorRole.Text: (118, 118, 122),
    QPalette.ColorRole.ButtonText: (118, 118, 122), QPalette.ColorRole.Button: (48, 48, 51),
    QPalette.ColorRole.Base: (38, 38, 40), QPalette.ColorRole.Highlight: (70, 70, 76),
    QPalette.ColorRole.HighlightedText: (160, 160, 160), QPalette.ColorRole.PlaceholderText: (95, 95, 98),
    QPalette.ColorRole.Light: (45, 45, 48),
}


def dark_palette() -> QPalette:
    """The dark theme: every group set, the Disabled one with its own muted colours."""
    palette = QPalette()
    for role, rgb in DARK_ACTIVE.items():
        palette.setColor(role, QColor(*rgb))  # all groups
    for role, rgb in DARK_DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(*rgb))
    return palette
