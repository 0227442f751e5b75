"""The window's features, composed by :class:`~viewer.gui.main_window.MainWindow` (Spyder's plugins):
:class:`~viewer.gui.features.scan.ScanController`, :class:`~viewer.gui.features.case.CaseController`,
:class:`~viewer.gui.features.export.ExportController`, :class:`~viewer.gui.features.handover.HandoverController`.
Each talks to the window through :class:`~viewer.gui.features.base.Host` and to the others through the
session (:mod:`viewer.workspace.session`)."""
