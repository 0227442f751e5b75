"""Text from a case or a dump is shown as text: the one home of the window's labels and message boxes.

A QLabel or QMessageBox guesses its format (``Qt.AutoText``): a text that starts with ``<`` and looks
like a tag — a file name, a case name, a finding kind, a reviewer's comment, a parser's warning, all of
them written by whoever made the evidence or the case — is rendered as rich text (markup, links, images
loaded from local paths), so an attacker could restyle or fake what the examiner reads. Every label and
message box of :mod:`viewer.gui` is made here, plain unless asked otherwise:

* :func:`label` / :class:`PlainLabel`: ``Qt.PlainText``, always;
* :func:`rich_label`: rich text the caller composed, every outside value passed through :func:`esc`;
* :func:`message_box`, :func:`ask`, :func:`warn`, :func:`inform`: message boxes with plain text (Qt's static
  ``QMessageBox.question``/``warning``/``information`` guess the format, so the window never calls them);
* :func:`ask_text`: ``QInputDialog``'s text prompts, the prompt plain.

``tests/gui/test_gui_plain_text.py`` checks that no module of the window makes a QLabel or message box in
any other way, and that a case and a dump named like markup show their names literally.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt  # mightBeRichText lives in QtGui
from PySide6.QtWidgets import QDialog, QInputDialog, QLabel, QLineEdit, QMessageBox, QWidget

PLAIN = Qt.TextFormat.PlainText
Button = QMessageBox.StandardButton


def esc(value: object) -> str:
    """``value`` as text safe inside rich text (``<``, ``>``, ``&`` and quotes escaped)."""
    return escape(str(value), quote=True)


class PlainLabel(QLabel):
    """A QLabel that always shows its text as plain text."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setTextFormat(PLAIN)
        self.setText(text)


def label(text: str = "", parent: QWidget | None = None, *, name: str = "") -> QLabel:
    """A plain-text label (``name``: its object name)."""
    widget = PlainLabel(text, parent)
    if name:
        widget.setObjectName(name)
    return widget


def rich_label(html: str = "", parent: QWidget | None = None) -> QLabel:
    """A label showing ``html`` that the caller built — every value from outside passed through :func:`esc`."""
    widget = QLabel(parent)
    widget.setTextFormat(Qt.TextFormat.RichText)
    widget.setText(html)
    return widget


def message_box(icon: QMessageBox.Icon, title: str, text: str, buttons: Button = Button.Ok,
                parent: QWidget | None = None, *, name: str = "", informative: str = "") -> QMessageBox:
    """A message box whose text (and informative text) is plain text."""
    box = QMessageBox(parent)
    box.setIcon(icon)
    box.setWindowTitle(title)
    box.setTextFormat(PLAIN)
    box.setText(text)
    if informative:
        box.setInformativeText(informative)
        for child in box.findChildren(QLabel, "qt_msgbox_informativelabel"):
            child.setTextFormat(PLAIN)
    box.setStandardButtons(buttons)
    if name:
        box.setObjectName(name)
    return box


def ask(parent: QWidget | None, title: str, text: str, buttons: Button = Button.Yes | Button.No,
        default: Button = Button.NoButton) -> Button:
    """A modal question (plain text); the button chosen."""
    box = message_box(QMessageBox.Icon.Question, title, text, buttons, parent)
    if default != Button.NoButton:
        box.setDefaultButton(default)
    try:
        return Button(box.exec())
    finally:
        box.deleteLater()


def _tell(icon: QMessageBox.Icon, parent: QWidget | None, title: str, text: str) -> None:
    box = message_box(icon, title, text, Button.Ok, parent)
    try:
        box.exec()
    finally:
        box.deleteLater()


def warn(parent: QWidget | None, title: str, text: str) -> None:
    """A modal warning (plain text)."""
    _tell(QMessageBox.Icon.Warning, parent, title, text)


def inform(parent: QWidget | None, title: str, text: str) -> None:
    """A modal notice (plain text)."""
    _tell(QMessageBox.Icon.Information, parent, title, text)





def ask_text(parent: QWidget | None, title: str, prompt: str, text: str = "", *, multiline: bool = False,
             echo: QLineEdit.EchoMode = QLineEdit.EchoMode.Normal) -> tuple[str, bool]:
    """``QInputDialog.getText`` / ``getMultiLineText`` with the prompt as plain text (a prompt naming a
    bookmark or a comment from a case must not render as markup); ``(text, accepted)``."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setLabelText(prompt)
    if multiline:
        dialog.setOption(QInputDialog.InputDialogOption.UsePlainTextEditForTextInput)
    dialog.setTextEchoMode(echo)
    dialog.setTextValue(text)
    for child in dialog.findChildren(QLabel):
        child.setTextFormat(PLAIN)
    try:
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        return dialog.textValue(), accepted
    finally:
        dialog.deleteLater()


def tip(text: object) -> object:
    """A tooltip that shows ``text`` literally: Qt renders a tooltip as rich text when it looks like
    markup, so such a text goes escaped in a ``<pre>``-like paragraph. Non-strings (None) pass through."""
    if not isinstance(text, str) or not GuiQt.mightBeRichText(text):
        return text
    return f"<p style='white-space:pre-wrap'>{esc(text)}</p>"

__all__ = ["PLAIN", "PlainLabel", "ask", "ask_text", "esc", "inform", "label", "message_box", "rich_label", "tip", "warn"]
