"""Scanning the current dump from the window: the Scan menu, the status-bar progress, the scan worker.

One scan at a time. Findings appear as the scan finds them (provisional batches) and are replaced by the
final result, which the session merges into the case when the dump is its evidence. Closing the tab of
the dump being scanned cancels the scan first (the worker reads the dump's mapping).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressBar, QPushButton

from viewer.gui.features.base import Feature, Host
from viewer.gui.plain import PlainLabel
from viewer.gui.task_worker import TaskWorker, one_line
from viewer.gui.workers import scan_task
from viewer.units import human_size
from viewer.workspace.findings_view import summary_text
from viewer.workspace.session import OpenDump

KEY_FILTER = "Keys (*.pem *.der *.crt *.cer *.pub *.json *.jwks);;All files (*)"


class ScanController(Feature):
    """Scan ▸ Scan for secrets, Scan with public keys…, Cancel scan; the scan's status-bar widgets."""

    sig_scan_finished = Signal(object)  # the ScanResult of a scan that ran to its end

    def __init__(self, host: Host):
        super().__init__(host)
        self._scan: tuple[TaskWorker, OpenDump] | None = None
        self._texts: dict[int, str] = {}  # per open dump (token): what its last scan said
        menu = self.menu = host.add_menu("scan", "&Scan")
        self.action_scan = host.add_action(menu, "&Scan for secrets", self.start_scan, "Ctrl+R",
                                           "Find key material in the current dump")
        self.action_scan_keys = host.add_action(menu, "Scan with &public keys…", self._ask_keys, "Ctrl+Shift+R",
                                                "Scan and match findings to public keys, certificates or a JWKS")
        self.action_cancel = host.add_action(menu, "&Cancel scan", self.cancel_scan, "Ctrl+.")
        self.action_cancel.setEnabled(False)

        self.progress = QProgressBar()
        self.progress.setObjectName("scan-progress")
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.label = PlainLabel()
        self.label.setContentsMargins(6, 0, 6, 0)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_scan)
        self.cancel_button.hide()
        for w in (self.label, self.progress, self.cancel_button):
            host.statusBar().addPermanentWidget(w)
        self.session.events.current_changed.connect(lambda _od: self._show_text())
        self.session.events.dump_removed.connect(lambda od: self._texts.pop(od.token, None))

    # -- the label: per tab ----------------------------------------------------------------------------
    def _say(self, od: OpenDump | None, text: str) -> None:
        """``text`` about ``od``'s scan; shown while ``od`` is the current tab (another tab shows its own)."""
        if od is not None:
            self._texts[od.token] = text
        self._show_text()

    def _show_text(self) -> None:
        current = self.session.current
        if self._scan is not None and self._scan[1] is not current:  # a scan of another tab runs: say whose
            od = self._scan[1]
            self.label.setText(f"{od.path.name}: {self._texts.get(od.token, 'scanning…')}")
        else:
            self.label.setText(self._texts.get(current.token, "") if current is not None else "")

    # -- state -------------------------------------------------------------------------------------------
    def idle(self) -> bool:
        return self._scan is None

    @property
    def worker(self) -> TaskWorker | None:
        """The running scan's worker (None when no scan runs)."""
        return self._scan[0] if self._scan is not None else None

    def scanning(self, od: OpenDump | None) -> bool:
        """Whether ``od`` is the dump being scanned (its findings are provisional)."""
        return self._scan is not None and self._scan[1] is od

    # -- start and stop -------------------------------------------------------------------------------
    def _ask_keys(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.parent_widget, "Public keys, certificates or JWKS to match",
                                                "", KEY_FILTER)
        if paths:
            self.start_scan(paths)

    def start_scan(self, public_key_paths: list[str] | None = None) -> bool:
        """Scan the current dump in a worker; findings appear as they come; False when none could start."""
        od = self.session.current
        if od is None or self._scan is not None:
            return False
        public_keys = []
        if public_key_paths:
            from viewer.scan.publickeys import load_public_keys

            try:
                public_keys = load_public_keys(public_key_paths)
            except ValueError as exc:
                self.host.last_error = one_line(str(exc))
                self.host.message(QMessageBox.Icon.Warning, "Cannot open evidence", self.host.last_error,
                                  "open-error")
                return False
        worker = scan_task(od.dump, public_keys=public_keys)
        worker.signals.sig_progress.connect(self._on_progress)
        worker.signals.sig_step.connect(self._on_step)
        worker.signals.sig_partial.connect(self._on_findings)
        self._scan = (worker, od)
        self.session.set_findings(od, [])
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.show()
        # room for the longest text while scanning (the status bar would squeeze the label otherwise)
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance(
            "after the byte scan: ecbignum 100% ") + 12)
        self.cancel_button.show()
        self._say(od, "scanning…")
        for act, enabled in ((self.action_scan, False), (self.action_scan_keys, False), (self.action_cancel, True)):
            act.setEnabled(enabled)
        self.session.set_scanning(od)
        self.start(worker, done=self._on_done, cancelled=self._on_cancelled, failed=self._on_failed)
        return True

    def cancel_scan(self) -> None:
        if self._scan is not None:
            self._scan[0].cancel()
            self._say(self._scan[1], "cancelling…")

    def shutdown(self) -> None:
        self.cancel_scan()
        super().shutdown()

    # -- reports (GUI thread) -------------------------------------------------------------------------
    def _on_progress(self, done: int, total: int, rate: float, eta: float) -> None:
        if total:
            self.progress.setValue(int(1000 * done / total))
        text = f"scanning… {human_size(int(rate))}/s" if rate > 0 else "scanning…"
        if eta == eta and eta != float("inf"):  # NaN until the rate is known
            text += f", {eta:.0f} s left"
        self._say(self._scan[1] if self._scan is not None else None, text)

    def _on_step(self, step: str, done: int, total: int) -> None:
        """After the byte scan, a detector's own search (big numbers around moduli, HMAC secrets, copies
        of keys): its name, and how far it is when it can tell (else a busy bar)."""
        if self._scan is None or self._scan[0].is_cancelled:
            return
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done, total) / total))
            self._say(self._scan[1], f"after the byte scan: {step} {100 * min(done, total) / total:.0f}%")
        else:
            self.progress.setRange(0, 0)
            self._say(self._scan[1], f"after the byte scan: {step}…")

    def _on_findings(self, batch: list) -> None:
        if self._scan is not None:
            self.session.add_findings(self._scan[1], batch)

    def _ended(self, message: str) -> OpenDump | None:
        od = self._scan[1] if self._scan is not None else None
        self._scan = None
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.label.setMinimumWidth(0)
        self.cancel_button.hide()
        self._say(od, message)
        for act, enabled in ((self.action_scan, True), (self.action_scan_keys, True), (self.action_cancel, False)):
            act.setEnabled(enabled)
        self.session.set_scanning(None)
        return od

    def _on_done(self, result) -> None:  # noqa: ANN001 - ScanResult
        od = self._ended(f"scan done: {summary_text(result.findings)}")
        if od is None:
            return
        self.session.set_findings(od, list(result.findings), result)
        run = self.session.merge_scan(od, result)
        if run is not None:
            self.status(f"merged into the case: {run.findings} findings ({run.new} new, {run.stale} gone)", 10_000)
        self.sig_scan_finished.emit(result)

    def _on_cancelled(self, result=None) -> None:  # noqa: ANN001
        od = self._ended("scan cancelled")
        if od is not None and result is not None:
            self.session.set_findings(od, list(result.findings), result)

    def _on_failed(self, reason: str) -> None:
        self._ended(f"scan failed: {reason}")


__all__ = ["ScanController"]
