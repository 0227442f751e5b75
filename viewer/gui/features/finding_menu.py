"""A right-click on a finding (table, tree, Secrets overview): Copy location, Copy key id, Copy finding id,
Export this finding… (a masked one-finding JSON, :func:`~viewer.workspace.finding_actions.finding_document`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from viewer.gui.features.base import Feature, Host
from viewer.gui.findings import FindingsPanel
from viewer.scan.finding import Finding
from viewer.workspace.finding_actions import finding_document, location_text


class FindingMenu(Feature):
    """The actions on one finding, added to the findings panel's context menu (and any other's)."""

    def __init__(self, host: Host, panel: FindingsPanel):
        super().__init__(host)
        panel.finding_actions.append(self.add_actions)

    def add_actions(self, f: Finding, menu: QMenu) -> None:
        menu.addAction("Copy location", lambda: self.copy(self.location(f)))
        key = menu.addAction("Copy key id", lambda: self.copy(f.key_id or ""))
        key.setEnabled(bool(f.key_id))
        menu.addAction("Copy finding id", lambda: self.copy(f.id))
        menu.addAction("Export this finding…", lambda: self._ask_export(f))

    def location(self, f: Finding) -> str:
        od = self.session.current
        return location_text(od.dump, f) if od is not None else f"file offset {f.offset:#x}, {f.length} bytes"

    @staticmethod
    def copy(text: str) -> None:
        QGuiApplication.clipboard().setText(text)

    def _ask_export(self, f: Finding) -> None:
        od = self.session.current
        start = str(od.path.with_name(f"{od.path.stem}-{f.id}.json")) if od is not None else f"{f.id}.json"
        path, _ = QFileDialog.getSaveFileName(self.parent_widget, "Export this finding", start, "JSON (*.json)")
        if path:
            self.export(f, path)

    def export(self, f: Finding, path: str | os.PathLike[str]) -> bool:
        """Write ``f`` as a masked JSON document (with its review when the dump is evidence of the case)."""
        od = self.session.current
        if od is None:
            return False
        record, _why = self.session.case_record(od, f)
        doc = finding_document(od.dump, od.sha256, f, record.review if record is not None else None)
        try:
            Path(path).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        except OSError as exc:
            self.host.message(QMessageBox.Icon.Warning, "Export this finding", f"cannot write {path}: {exc}",
                              "finding-export-error")
            return False
        self.status(f"Finding {f.id} written to {path} (masked)", 5000)
        return True


__all__ = ["FindingMenu"]
