"""What one finding (or one secret, i.e. a key-id group) is: the details pane beside the findings table.

Shown: what was found (kind, encoding, algorithm, bits, curve … from ``details``), where (file offset,
length, virtual address, region), what was checked (the reasons), which supplied public keys it matches,
the confidence with a one-line meaning, and the key id with a copy button. Never any key bytes: a Finding
holds none, and ``details`` values that look like long encoded data are left out all the same.
"""

from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QResizeEvent, QTextOption
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from viewer.gui.palette import confidence_colours
from viewer.gui.plain import PlainLabel
from viewer.scan.finding import Confidence, Finding
from viewer.workspace.findings_view import CONFIDENCE_MEANING, confidence_label, hex_or_dash

# details keys shown first, in this order, under friendlier names
_WHAT_KEYS = (("algorithm", "Algorithm"), ("bits", "Bits"), ("curve", "Curve"), ("alg", "Alg"),
              ("e", "Public exponent"), ("component", "Component"), ("layout", "Layout"))
_LONG_DATA = re.compile(r"^[0-9A-Za-z+/=_:-]{48,}$")  # hex/base64-looking text: never shown


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _safe_value(value: Any) -> str | None:
    """A details value as short text, or None when it should not be shown (nested data, long blobs)."""
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int):
        return f"{value}" if abs(value) < 1 << 64 else None  # a big integer could be key material
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        if _LONG_DATA.match(value) or len(value) > 200:
            return None
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int)) for v in value) and len(value) <= 20:
        parts = [_safe_value(v) for v in value]
        return None if any(p is None for p in parts) else ", ".join(p for p in parts if p)
    if isinstance(value, dict) and len(value) <= 8:
        parts = []
        for k, v in value.items():
            text = _safe_value(v)
            if text is None:
                return None
            parts.append(f"{k}: {text}")
        return "; ".join(parts)
    return None


def _java_object(context: Any) -> str | None:
    """``details["hprof"]`` (viewer.scan.detectors.hprof) as one line: ``Class @id, field NAME (byte[32] @id)``."""
    if not isinstance(context, dict):
        return None
    parts = {k: _safe_value(context.get(k)) for k in ("class", "object_id", "field", "array", "array_id")}
    array = f"{parts['array'] or '?'} @{parts['array_id'] or '?'}"
    if not parts["class"]:
        held = [_safe_value(h) for h in context.get("held_by") or [] if isinstance(h, str)][:2]
        return f"in {array}, held by {'; '.join(h for h in held if h)}" if any(held) else \
            f"in {array} (held by no key object)"
    return f"{parts['class']} @{parts['object_id'] or '?'}, field {parts['field'] or '?'} ({array})"


def _rows(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><td style='padding-right:12px; color:#555'>{_esc(k)}</td><td>{v}</td></tr>" for k, v in rows
    )
    return f"<table width='100%' cellspacing='0' cellpadding='1'>{cells}</table>"


def _mono(text: str) -> str:
    return f"<code>{_esc(text)}</code>"


def _confidence_html(conf: Confidence) -> str:
    colour = confidence_colours()[conf]
    return (f"<span style='background-color:{colour}; color:#000'>&nbsp;<b>{_esc(confidence_label(conf))}</b>&nbsp;</span>"
            f" — {_esc(CONFIDENCE_MEANING[conf])}")


class ElidedLabel(PlainLabel):
    """One line that shortens itself in the middle to the width it gets (the full text in ``full_text``
    and the tooltip): a 64-digit key id must not widen the dock it sits in."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.full_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideMiddle, max(40, self.width())))


class DetailsPane(QWidget):
    """Read-only description of the selected finding or group. ``text()`` is the plain text shown."""

    sig_key_id_copied = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        # long unbroken values (Java class names, paths, key ids) wrap instead of running off the pane
        self.browser.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.key_label = ElidedLabel()
        self.key_label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy key id")
        self.copy_button.setToolTip("Copy the key id (the fingerprint of the public half) to the clipboard")
        self.copy_button.clicked.connect(self.copy_key_id)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(PlainLabel("Key id:"))
        row.addWidget(self.key_label, 1)
        row.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.browser, 1)
        layout.addLayout(row)
        self._key_id: str | None = None
        self.clear()

    # -- API -----------------------------------------------------------------------------------
    @property
    def key_id(self) -> str | None:
        return self._key_id

    def text(self) -> str:
        return self.browser.toPlainText() + "\n" + (self._key_id or "")

    def clear(self) -> None:
        self.browser.setHtml("<p style='color:#777'>Select a finding to see what was found, where, and why.</p>")
        self._set_key_id(None)

    def copy_key_id(self) -> None:
        if self._key_id:
            QGuiApplication.clipboard().setText(self._key_id)
            self.sig_key_id_copied.emit(self._key_id)

    def show_finding(self, f: Finding) -> None:
        what: list[tuple[str, str]] = [("Kind", f"<b>{_esc(f.kind)}</b>" + ("" if f.secret else " (public, not a secret)")),
                                       ("Encoding", _esc(f.encoding))]
        for key, label in _WHAT_KEYS:
            if key in f.details:
                text = _safe_value(f.details[key])
                if text is not None:
                    what.append((label, _esc(text)))
        shown = {k for k, _ in _WHAT_KEYS}
        java = _java_object(f.details.get("hprof"))
        if java is not None:  # a Java heap dump's object context: the key object, its field, the array
            what.append(("Java object", _esc(java)))
            shown.add("hprof")
        for key in sorted(f.details):
            if key in shown:
                continue
            text = _safe_value(f.details[key])
            if text is not None:
                what.append((key.replace("_", " ").capitalize(), _esc(text)))
        where = [
            ("File offset", _mono(f"{f.offset:#x}") + f" ({f.offset})"),
            ("Length", f"{f.length} bytes"),
            ("Virtual address", _mono(hex_or_dash(f.vaddr))),
            ("Region", _esc(f.region or "—")),
            ("Finding id", _mono(f.id)),
        ]
        parts = [
            f"<h3 style='margin-bottom:2px'>{_esc(f.kind)} <span style='font-weight:normal'>({_esc(f.encoding)})</span></h3>",
            f"<p>Confidence: {_confidence_html(f.confidence)}</p>",
            "<h4>What was found</h4>", _rows(what),
            "<h4>Where</h4>", _rows(where),
            "<h4>What was checked</h4>", self._reasons(f.reasons),
            "<h4>Supplied public keys</h4>", self._matches(f.matches, f.secret),
        ]
        self.browser.setHtml("".join(parts))
        self._set_key_id(f.key_id)

    def show_secret(self, group: Any) -> None:
        """A key-id group: a :class:`viewer.workspace.findings_view.FindingGroup` (or an engine ``Secret``)."""
        findings: list[Finding] | None = getattr(group, "findings", None)
        if findings is not None:
            locations = [(f.offset, f.length, f.vaddr, f.region, f.encoding, f.confidence) for f in findings]
        else:  # viewer.scan.engine.Secret
            locations = [(loc["offset"], loc["length"], loc["vaddr"], loc["region"], loc["encoding"],
                          Confidence.parse(loc["confidence"])) for loc in group.locations]
        conf = Confidence(group.confidence)
        rows = "".join(
            f"<tr><td>{_mono(f'{off:#x}')}</td><td>{length}</td><td>{_mono(hex_or_dash(va))}</td>"
            f"<td>{_esc(region or '—')}</td><td>{_esc(enc)}</td><td>{_esc(confidence_label(c))}</td></tr>"
            for off, length, va, region, enc, c in locations
        )
        table = ("<table cellspacing='0' cellpadding='2' border='0'><tr style='color:#555'><td>File offset</td>"
                 "<td>Length</td><td>Virtual address</td><td>Region</td><td>Encoding</td><td>Confidence</td></tr>"
                 f"{rows}</table>")
        best = getattr(group, "best", None)  # FindingGroup: the most confident (secret) finding
        parts = [
            f"<h3 style='margin-bottom:2px'>{_esc(group.kind)}: {len(locations)} location"
            f"{'s' if len(locations) != 1 else ''}</h3>",
            f"<p>Best confidence: {_confidence_html(conf)}</p>",
            "<h4>Where</h4>", table,
        ]
        if isinstance(best, Finding):
            parts += [f"<h4>What was checked (at {best.offset:#x}, {_esc(best.encoding)})</h4>",
                      self._reasons(best.reasons)]
        parts += ["<h4>Supplied public keys</h4>", self._matches(list(group.matches), getattr(group, "secret", True))]
        self.browser.setHtml("".join(parts))
        self._set_key_id(group.key_id)

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _reasons(reasons: list[str]) -> str:
        if not reasons:
            return "<p style='color:#777'>nothing recorded</p>"
        return "<ul style='margin-top:0'>" + "".join(f"<li>{_esc(r)}</li>" for r in reasons) + "</ul>"

    @staticmethod
    def _matches(matches: list[str], secret: bool = True) -> str:
        if not matches:
            return "<p style='color:#777'>matches no supplied public key</p>"
        lead = "the private half of" if secret else "the same public key as"
        return (f"<p>{lead}:</p><ul style='margin-top:0'>"
                + "".join(f"<li><b>{_esc(m)}</b></li>" for m in matches) + "</ul>")

    def _set_key_id(self, key_id: str | None) -> None:
        self._key_id = key_id
        self.key_label.set_full_text(key_id or "—")
        self.key_label.setToolTip(key_id or "no key id: the public half could not be derived")
        self.copy_button.setEnabled(bool(key_id))
