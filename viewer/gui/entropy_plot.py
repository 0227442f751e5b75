"""Entropy plot: bits per byte across the dump, regions shaded by kind, findings marked, hex axis.

``EntropyPlot.set_dump(dump)`` computes the entropy pyramid (:mod:`viewer.scan.entropy`, 4 KiB blocks)
in the window's one worker (:class:`~viewer.gui.task_worker.TaskWorker` running
:func:`viewer.workspace.jobs.entropy_job`) on the widget's thread pool, with progress; a new dump or
``set_dump(None)`` cancels it (a late result is recognised by its token and dropped). The maths of what
is drawn (curves, the finer pass, shading spans, ticks) is Qt-free, in :mod:`viewer.workspace.entropy_series`;
this widget holds the state and draws. Then:

* x is the file offset (``set_axis_mode("offset")``, every byte of the file) or the virtual address
  (``"vaddr"``: only regions with an address, each drawn at its vaddr, gaps between them left empty);
* two curves: the mean of each plotted point's span (``mean_curve``) and, fainter, its max
  (``max_curve``, so a 4 KiB key blob in a zoomed-out view still shows as a spike); each point is
  drawn as a flat step over the bytes it covers (x values come in pairs: start, end);
* in vaddr mode a region narrower than 3 pixels gets a dot at its mean entropy (``region_dots``):
  address spaces are sparse, and a stack 1 MiB wide is invisible next to a module at 0x7c900000;
* regions are shaded, one semi-transparent colour per kind (:data:`KIND_COLOURS`), from 0 to 8;
* ``set_findings(findings)`` puts one marker per finding at y = 8.2, coloured by its kind's colour role
  (the palette the hex view and the findings table use), sized by confidence (anything with ``offset``, ``kind`` and ``confidence`` works);
* hovering shows offset, address, region and the 4 KiB block's entropy in ``hover_label``;
* a left click emits ``sig_offset_clicked(file_offset)`` (a Python int; None positions are ignored), or
  ``sig_finding_clicked(finding)`` on a finding's marker;
* zooming (any change of the x range, or of the plot's width) redraws from the in-memory pyramid at
  about one point per pixel (``EntropyPyramid.range``), so zooming in shows finer structure down to
  level 0;
* finer than the pyramid: when the visible x range covers fewer pyramid blocks (4 KiB) than the plot
  is wide in pixels, a fine pass (:func:`viewer.workspace.jobs.fine_entropy_job` in a TaskWorker on the
  same thread pool, cancellable, token-checked like the pyramid's) reads just the visible bytes, plus half the visible span each side so a small
  pan needs no new pass (at most :data:`FINE_MAX_BYTES`, 64 MiB, read through ``dump.read``; never
  written), and computes the entropy at the largest power-of-two block >= 64 bytes that still gives at
  least one block per pixel. When it arrives, the curves show it in place of the pyramid over the
  bytes it covers (the coarse steps are kept outside them); ``fine_block()`` says which block size is
  drawn (None: the pyramid only). Zooming out past the threshold drops it and goes back to the pyramid;
  zooming further in or panning out of it asks for a new one (the old one stays drawn until then); a
  new dump or axis mode drops it and any result still in flight. A block of ``b`` bytes cannot exceed
  ``log2(b)`` bits/byte (64 B: 6 bits, 128 B: 7 bits), so fine values read lower than 4 KiB ones for
  the same random data; the hover text says so. In vaddr mode the fine pass is only made when the
  visible range lies in one region (one contiguous run of file bytes, mapped back to its addresses);
  with two or more regions in view it stays on the pyramid.

Limits (documented, not bugs): in vaddr mode with more visible regions than half the plot's width in
pixels, each region is drawn as one flat segment at its mean (max = mean there); x values are float64,
so with kernel addresses (~2**64) the x resolution is ~4 KiB and clicks resolve to that precision.
"""

from __future__ import annotations

import math
import weakref
from functools import partial
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QVBoxLayout, QWidget

from viewer.gui.palette import role_color
from viewer.gui.plain import PlainLabel, rich_label
from viewer.gui.task_worker import TaskWorker
from viewer.scan.entropy import DEFAULT_BLOCK, HIGH_ENTROPY, EntropyPyramid
from viewer.workspace.entropy_series import (
    FINE_CHUNK,
    FINE_MAX_BYTES,
    FINE_MIN_BLOCK,
    MIN_POINTS,
    MODES,
    FineRequest,
    FineResult,
    MemoryMap,
    finding_points,
    fine_covers,
    hex_label,
    hex_tick_spacing,
    merge_spans,
    nearest,
    offset_series,
    region_spans,
    vaddr_series,
    want_fine,
)
from viewer.workspace.highlights import finding_role
from viewer.workspace.jobs import entropy_job, fine_entropy_job

__all__ = ["EntropyPlot", "FINDING_Y", "FINE_CHUNK", "FINE_MAX_BYTES", "FINE_MIN_BLOCK", "FineRequest",
           "FineResult", "HexAxisItem", "KIND_COLOURS", "MODES", "finding_colour", "hex_label", "kind_colour"]

KIND_COLOURS: dict[str, tuple[int, int, int]] = {  # region kinds (not finding kinds: those have roles)
    "stack": (255, 140, 0),
    "module": (65, 105, 225),
    "heap": (46, 170, 87),
    "memory": (150, 150, 150),
    "header": (170, 60, 220),
    "stream": (0, 170, 170),
    "notes": (220, 180, 40),
}
OTHER_COLOUR = (200, 120, 160)
REGION_ALPHA = 55
REGION_EDGE_ALPHA = 140
FINDING_Y = 8.2
REDRAW_DELAY_MS = 30


def kind_colour(kind: str) -> tuple[int, int, int]:
    """The shading colour of a region kind."""
    return KIND_COLOURS.get(kind, OTHER_COLOUR)


def finding_colour(finding: Any) -> Any:
    """A finding's marker colour: its colour role's, as in the hex view and the findings table (the plot's
    background is dark in both themes, so the dark theme's colours)."""
    return role_color(finding_role(finding), dark=True, opaque=True)


class HexAxisItem(pg.AxisItem):
    """An axis whose ticks fall on powers of two and read in hex (offsets and addresses)."""

    def __init__(self, orientation: str = "bottom", **kwargs: Any):
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        levels = hex_tick_spacing(minVal, maxVal, size)
        return levels if levels is not None else super().tickSpacing(minVal, maxVal, size)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [hex_label(v * scale) for v in values]


class EntropyPlot(QWidget):
    """Entropy of a dump over file offsets or virtual addresses (see the module docstring)."""

    sig_offset_clicked = Signal(object)  # file offset (Python int)
    sig_finding_clicked = Signal(object)  # the finding whose marker was clicked
    sig_progress = Signal(object, object)  # bytes done, bytes in all
    sig_ready = Signal(object)  # the EntropyPyramid now shown
    sig_failed = Signal(str)  # one-line reason
    sig_fine_ready = Signal(object)  # block size of the fine curve now drawn

    def __init__(self, parent: QWidget | None = None, block: int = DEFAULT_BLOCK):
        super().__init__(parent)
        self.block = block
        self.dump: Any = None
        self.pyramid: EntropyPyramid | None = None
        self.findings: list[Any] = []
        self._mode = "offset"
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._token = 0
        self._workers: dict[int, TaskWorker] = {}
        self._fine_enabled = True
        self._fine_token = 0
        self._fine_workers: dict[int, TaskWorker] = {}
        self._fine: FineResult | None = None  # drawn in place of the pyramid over its bytes
        self._fine_pending: FineRequest | None = None  # asked for, not arrived yet
        self._mem = MemoryMap()  # regions with an address, sorted by vaddr
        self._extent = (0.0, 1.0)
        self._finding_xs = np.empty(0)
        self._finding_objs: list[Any] = []
        self._spans: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._cache: weakref.WeakKeyDictionary[Any, EntropyPyramid] = weakref.WeakKeyDictionary()

        self.axis = HexAxisItem("bottom")
        self.plot_widget = pg.PlotWidget(axisItems={"bottom": self.axis})
        self.plot_item = self.plot_widget.getPlotItem()
        self.view_box = self.plot_item.getViewBox()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.hideButtons()
        self.plot_item.showGrid(x=False, y=True, alpha=0.25)
        self.plot_item.setLabel("left", "entropy (bits/byte)")
        self.plot_item.setLabel("bottom", "file offset")
        self.view_box.setMouseEnabled(x=True, y=False)
        self.plot_item.disableAutoRange()
        self.plot_item.setYRange(-0.1, 8.6, padding=0)

        self.region_items: dict[str, pg.BarGraphItem] = {}
        self.max_curve = pg.PlotDataItem(pen=pg.mkPen(255, 90, 90, 150, width=1), connect="finite")
        self.mean_curve = pg.PlotDataItem(pen=pg.mkPen(255, 225, 40, width=2), connect="finite")
        self.findings_scatter = pg.ScatterPlotItem(pen=pg.mkPen(20, 20, 20), size=9)
        self.region_dots = pg.ScatterPlotItem(pen=pg.mkPen(None), brush=pg.mkBrush(255, 225, 40), size=5)
        self.threshold_line = pg.InfiniteLine(
            pos=HIGH_ENTROPY,
            angle=0,
            movable=False,
            pen=pg.mkPen(255, 255, 255, 70, style=Qt.PenStyle.DashLine),
        )
        self.cursor_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(255, 255, 255, 110))
        self.cursor_line.hide()
        for item, z in (
            (self.threshold_line, 1),
            (self.max_curve, 2),
            (self.mean_curve, 3),
            (self.region_dots, 3),
            (self.findings_scatter, 4),
            (self.cursor_line, 5),
        ):
            item.setZValue(z)
            self.plot_item.addItem(item, ignoreBounds=True)

        self.hover_label = PlainLabel("")
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label = PlainLabel("no dump")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(160)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        self.legend_label = rich_label(self._legend_html())

        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.setSpacing(12)
        bottom.addWidget(self.legend_label)
        bottom.addStretch(1)
        bottom.addWidget(self.status_label)
        bottom.addWidget(self.progress_bar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.hover_label)
        layout.addLayout(bottom)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_DELAY_MS)
        self._redraw_timer.timeout.connect(self.redraw)
        self.view_box.sigXRangeChanged.connect(self._schedule_redraw)
        self.view_box.sigResized.connect(self._schedule_redraw)
        scene = self.plot_widget.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)

    # -- public API ------------------------------------------------------------------------------
    def set_dump(self, dump: Any) -> None:
        """Show ``dump`` (None: nothing). Cancels a computation in flight and starts a new one.

        The same dump again is a no-op (findings and zoom stay); a dump shown before (switching tabs)
        comes back at once from a per-dump cache of pyramids (weak: it goes with the Dump object).
        """
        if dump is not None and dump is self.dump and (self.pyramid is not None or self.is_computing()):
            return
        self.cancel()
        self._drop_fine()
        self.dump = dump
        self.pyramid = None
        self.findings = []
        self._index_regions()
        self._clear_plot()
        self.hover_label.setText("")
        self.legend_label.setText("")
        if dump is None:
            self.status_label.setText("no dump")
            return
        self._rebuild()  # this dump's axis and legend at once, not the last tab's while it computes
        cached = self._cached(dump)
        if cached is not None:
            self.set_pyramid(cached)
            self.sig_ready.emit(cached)
            return
        self._token += 1
        worker = TaskWorker(entropy_job, dump, self.block, what="entropy")
        token = self._token
        worker.signals.sig_progress.connect(partial(self._on_progress, token))
        worker.signals.sig_done.connect(partial(self._on_done, token))
        worker.signals.sig_failed.connect(partial(self._on_failed, token))
        worker.signals.sig_finished.connect(partial(self._on_finished, token))
        self._workers[self._token] = worker
        self.status_label.setText("computing entropy…")
        self.progress_bar.setValue(0)
        self.progress_bar.show()
        self._pool.start(worker)

    def set_pyramid(self, pyramid: EntropyPyramid) -> None:
        """Show an already computed pyramid of the current dump (the worker ends here too)."""
        self.pyramid = pyramid
        self.progress_bar.hide()
        note = "" if pyramid.complete else " (incomplete)"
        self.status_label.setText(f"mean {pyramid.mean:.2f} bits/byte{note}")
        self._rebuild()

    def _cached(self, dump: Any) -> EntropyPyramid | None:
        try:
            return self._cache.get(dump)
        except TypeError:  # not weak-referenceable (a test double)
            return None

    def cancel(self) -> None:
        worker = self._workers.get(self._token)
        if worker is not None:
            worker.cancel()
        self._token += 1
        self.progress_bar.hide()

    def is_computing(self) -> bool:
        return self._token in self._workers

    def fine_block(self) -> int | None:
        """Block size (bytes) of the fine curve drawn in place of the pyramid; None: pyramid only."""
        return self._fine.request.block if self._fine is not None else None

    def fine_range(self) -> tuple[int, int] | None:
        """File bytes [start, end) the fine curve covers (None when there is none)."""
        return (self._fine.request.start, self._fine.request.end) if self._fine is not None else None

    def is_computing_fine(self) -> bool:
        return self._fine_token in self._fine_workers

    def set_fine_enabled(self, enabled: bool) -> None:
        """Turn the finer-than-the-pyramid pass on (the default) or off (the pyramid only)."""
        self._fine_enabled = bool(enabled)
        if not self._fine_enabled:
            self._drop_fine()
        self.redraw()

    def fine_entropy_at(self, offset: int) -> tuple[float, int] | None:
        """(entropy, block size) of the fine block holding file ``offset``, when one is drawn there."""
        return self._fine.entropy_at(offset) if self._fine is not None else None

    def wait_idle(self, msecs: int = 30000) -> bool:
        return self._pool.waitForDone(msecs)

    def axis_mode(self) -> str:
        return self._mode

    def set_axis_mode(self, mode: str) -> None:
        """``"offset"`` (x = file offset) or ``"vaddr"`` (x = virtual address, memory regions only)."""
        if mode not in MODES:
            raise ValueError(f"axis mode must be one of {MODES}, not {mode!r}")
        if mode != self._mode:
            self._mode = mode
            self.plot_item.setLabel("bottom", "file offset" if mode == "offset" else "virtual address")
            self._rebuild()

    def set_findings(self, findings: Any) -> None:
        """Markers at y = 8.2 for objects with ``offset``, ``kind`` and ``confidence``."""
        self.findings = list(findings or [])
        self._draw_findings()

    def extent(self) -> tuple[float, float]:
        """The x range of the whole plot in the current mode."""
        return self._extent

    def x_for_offset(self, offset: int) -> float | None:
        if self._mode == "offset":
            return float(offset)
        if self.dump is None:
            return None
        va = self.dump.file_to_va(int(offset))
        return None if va is None else float(va)

    def offset_for_x(self, x: float) -> int | None:
        """File offset under plot position ``x`` (None outside the file / outside captured memory)."""
        if self.dump is None or not math.isfinite(x):
            return None
        if self._mode == "offset":
            off = int(x)
            return off if 0 <= off < self.dump.size else None
        return self.dump.va_to_file(int(x)) if x >= 0 else None

    def entropy_at(self, offset: int) -> float | None:
        """Entropy of the level-0 block holding ``offset`` (None before the pyramid is ready)."""
        p = self.pyramid
        if p is None or offset < 0:
            return None
        i = offset // p.block
        return float(p.values[i]) if i < p.blocks else None

    def hover_text(self, x: float) -> str:
        """What the hover label says at plot position ``x``: offset, address, region, entropy."""
        if self.dump is None:
            return ""
        offset = self.offset_for_x(x)
        if offset is None:
            if self._mode == "vaddr" and x >= 0:
                return f"va {hex_label(x)}  not in the dump"
            return ""
        parts = [f"offset {offset:#x}"]
        region = self.dump.region_at(offset)
        if region is not None and region.vaddr is not None:
            parts.append(f"va {region.vaddr + offset - region.file_offset:#x}")
        if region is not None:
            parts.append(f"{region.kind}: {region.name}" if region.name else region.kind)
        else:
            parts.append("no region")
        fine = self.fine_entropy_at(offset)
        h = self.entropy_at(offset)
        if fine is not None:
            h, b = fine
            note = f": at most {math.log2(b):g} bits/byte" if b < 256 else ""
            parts.append(f"entropy {h:.2f} bits/byte ({b} B block{note})")
        elif h is not None and self.pyramid is not None:
            parts.append(f"entropy {h:.2f} bits/byte ({self.pyramid.block} B block)")
        near = self._finding_near(x)
        if near is not None:
            parts.append(f"finding {near.kind} ({_confidence_name(near.confidence)})")
        return "  ·  ".join(parts)

    def click_at_x(self, x: float) -> int | None:
        """What a left click at plot position ``x`` does: on a finding's marker (the one the hover names)
        emit ``sig_finding_clicked`` and return its offset; elsewhere emit and return the file offset."""
        near = self._finding_near(x)
        if near is not None:
            self.sig_finding_clicked.emit(near)
            return int(near.offset)
        offset = self.offset_for_x(x)
        if offset is not None:
            self.sig_offset_clicked.emit(offset)
        return offset

    def scene_pos_for(self, x: float, y: float = 4.0) -> QPointF:
        """Scene position of plot point (x, y): for tests and callers that drive the plot."""
        return self.view_box.mapViewToScene(QPointF(x, y))

    def redraw(self) -> None:
        """Recompute the curves for the visible x range at about one point per pixel.

        Each point is drawn as a flat step over the bytes it covers (x pairs ``start, end``), so the
        curve covers exactly the file (or the region) and a block's value reads the same at any zoom.
        """
        self._redraw_timer.stop()
        p = self.pyramid
        self.region_dots.setData([], [])
        if p is None or self.dump is None:
            self.mean_curve.setData([], [])
            self.max_curve.setData([], [])
            return
        x0, x1 = self.view_box.viewRange()[0]
        points = max(MIN_POINTS, int(self.view_box.width()) or 1000)
        self._update_fine(x0, x1, int(self.view_box.width()))
        self._update_shading(x0, x1, self.view_box.viewPixelSize()[0] or 1.0)
        if self._mode == "offset":
            x, mean, mx = offset_series(p, x0, x1, points, self._fine)
        else:
            px = self.view_box.viewPixelSize()[0] or 1.0
            series = vaddr_series(p, self._mem, x0, x1, points, px, self._fine)
            if series.dot_x.size:
                self.region_dots.setData(series.dot_x, series.dot_y)
            x, mean, mx = series.x, series.mean, series.max
        self.max_curve.setData(x, mx)
        self.mean_curve.setData(x, mean)

    # -- the fine pass ---------------------------------------------------------------------------
    def _want_fine(self, x0: float, x1: float, width: int) -> tuple[FineRequest, int, int] | None:
        if not self._fine_enabled or self.pyramid is None or self.dump is None:
            return None
        return want_fine(self.pyramid, self._mode, self._mem, x0, x1, width)

    def _update_fine(self, x0: float, x1: float, width: int) -> None:
        """Drop, keep or ask for the fine pass the view calls for (see the module docstring)."""
        want = self._want_fine(x0, x1, width)
        if want is None:
            self._drop_fine()
            return
        req, v0, v1 = want
        f = self._fine
        if f is not None and (f.request.mode, f.request.shift) != (req.mode, req.shift):
            self._fine = None  # another mode or region: it no longer applies
        if fine_covers(self._fine.request if self._fine is not None else None, req, v0, v1):
            self._cancel_fine_worker()  # what is drawn already fits; anything in flight is for another view
            return
        if fine_covers(self._fine_pending, req, v0, v1):
            return
        self._cancel_fine_worker()
        self._fine_token += 1
        worker = TaskWorker(fine_entropy_job, self.dump, req, what="fine entropy")
        token = self._fine_token
        worker.signals.sig_done.connect(partial(self._on_fine_done, token))
        worker.signals.sig_failed.connect(partial(self._on_fine_failed, token))
        worker.signals.sig_finished.connect(partial(self._on_fine_finished, token))
        self._fine_workers[self._fine_token] = worker
        self._fine_pending = req
        self._pool.start(worker)

    def _cancel_fine_worker(self) -> None:
        worker = self._fine_workers.get(self._fine_token)
        if worker is not None:
            worker.cancel()
        self._fine_token += 1  # whatever is in flight is now stale
        self._fine_pending = None

    def _drop_fine(self) -> None:
        """Back to the pyramid only: the fine curve goes, a pass in flight is cancelled."""
        self._cancel_fine_worker()
        self._fine = None

    def _on_fine_done(self, token: int, result: FineResult) -> None:
        if token != self._fine_token:
            return  # stale: the view, the mode or the dump changed since it was asked for
        self._fine = result
        self._fine_pending = None
        self.redraw()
        self.sig_fine_ready.emit(result.request.block)

    def _on_fine_failed(self, token: int, _reason: str) -> None:
        if token == self._fine_token:
            self._fine_pending = None  # the pyramid stays drawn; the next redraw may try again

    def _on_fine_finished(self, token: int) -> None:
        self._fine_workers.pop(token, None)

    def _index_regions(self) -> None:
        self._mem = MemoryMap.of(self.dump.regions) if self.dump is not None else MemoryMap()

    # -- drawing ---------------------------------------------------------------------------------
    def _clear_plot(self) -> None:
        for item in self.region_items.values():
            self.plot_item.removeItem(item)
        self.region_items = {}
        self._spans = {}
        self.mean_curve.setData([], [])
        self.max_curve.setData([], [])
        self.findings_scatter.setData([])
        self._finding_xs = np.empty(0)
        self._finding_objs = []
        self.region_dots.setData([], [])
        self.cursor_line.hide()

    def _rebuild(self) -> None:
        """Everything that depends on the mode: extent, region shading, findings, curves."""
        self._drop_fine()
        self._clear_plot()
        if self.dump is None:
            return
        lo, hi = self._compute_extent()
        self._extent = (lo, hi)
        self._draw_regions()
        self._draw_findings()
        pad = max(1.0, (hi - lo) * 0.01)
        self.view_box.setLimits(xMin=lo - pad, xMax=hi + pad, minXRange=min(64.0, hi - lo or 1.0))
        self.view_box.setXRange(lo, hi, padding=0.01)
        self.redraw()

    def _compute_extent(self) -> tuple[float, float]:
        if self._mode == "offset":
            return 0.0, float(max(1, self.dump.size))
        extent = self._mem.extent()
        if extent is None:
            self.status_label.setText("no memory regions: this format has no address space")
            return 0.0, 1.0
        return extent

    def _draw_regions(self) -> None:
        """One BarGraphItem per kind; the spans themselves are set per redraw (:meth:`_update_shading`)."""
        self._spans = region_spans(self.dump.regions, self._mode, self._mem)
        for kind, (starts, ends) in self._spans.items():
            item = pg.BarGraphItem(
                x0=starts[:1],
                x1=ends[:1],
                y0=0.0,
                height=8.0,
                brush=pg.mkBrush(*kind_colour(kind), REGION_ALPHA),
                pen=pg.mkPen(*kind_colour(kind), REGION_EDGE_ALPHA),  # cosmetic: tiny regions stay 1 px wide
            )
            item.setZValue(-10)
            item.setToolTip(kind)
            self.plot_item.addItem(item, ignoreBounds=True)
            self.region_items[kind] = item
        self.legend_label.setText(self._legend_html(list(self._spans)))

    def _update_shading(self, x0: float, x1: float, px: float) -> None:
        """Shade the regions visible in [x0, x1], spans of one kind closer than a pixel merged: 100,000
        regions of a full-memory dump paint as at most a few thousand rectangles."""
        for kind, (starts, ends) in self._spans.items():
            a, b = merge_spans(starts, ends, x0, x1, px)
            self.region_items[kind].setOpts(x0=a, x1=b, y0=0.0, height=8.0)

    def _draw_findings(self) -> None:
        x_of = self.x_for_offset if self.dump is not None else (lambda _offset: None)
        self._finding_xs, self._finding_objs = finding_points(self.findings, x_of)
        brushes: dict[str, Any] = {}
        for f in self._finding_objs:
            role = finding_role(f)
            if role not in brushes:
                brushes[role] = pg.mkBrush(finding_colour(f))
        self.findings_scatter.setData(
            x=self._finding_xs,
            y=np.full(self._finding_xs.size, FINDING_Y),
            brush=[brushes[finding_role(f)] for f in self._finding_objs],
            size=np.array(
                [7 + 2 * max(1, min(int(getattr(f, "confidence", 1) or 1), 4)) for f in self._finding_objs]
            ),
            symbol="t",  # a downward triangle, pointing at the spot
            data=self._finding_objs,
        )

    def _finding_near(self, x: float) -> Any:
        """The drawn finding nearest to ``x`` within 5 pixels (None when there is none)."""
        px = self.view_box.viewPixelSize()[0] or 1.0
        i = nearest(self._finding_xs, x, 5 * px)
        return None if i is None else self._finding_objs[i]

    @staticmethod
    def _legend_html(kinds: list[str] | None = None) -> str:
        kinds = kinds if kinds is not None else []
        return " ".join(
            f'<span style="color: rgb{kind_colour(k)}">&#9632;</span>&nbsp;{k}&nbsp;&nbsp;' for k in kinds
        )

    # -- slots -----------------------------------------------------------------------------------
    def _schedule_redraw(self, *_: object) -> None:
        if self.pyramid is not None:
            self._redraw_timer.start()

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if not self.view_box.sceneBoundingRect().contains(scene_pos):
            self.cursor_line.hide()
            return
        x = self.view_box.mapSceneToView(scene_pos).x()
        self.cursor_line.setPos(x)
        self.cursor_line.setVisible(self.dump is not None)
        self.hover_label.setText(self.hover_text(x))

    def _on_mouse_clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.dump is None:
            return
        pos = event.scenePos()
        if not self.view_box.sceneBoundingRect().contains(pos):
            return
        self.click_at_x(self.view_box.mapSceneToView(pos).x())

    def _on_progress(self, token: int, done: int, total: int, _rate: float = 0.0, _eta: float = 0.0) -> None:
        if token != self._token:
            return
        if total:
            self.progress_bar.setValue(1000 * done // total)
            self.status_label.setText(f"computing entropy… {100 * done // total}%")
        self.sig_progress.emit(done, total)

    def _on_done(self, token: int, pyramid: EntropyPyramid) -> None:
        if token != self._token:
            return
        try:
            self._cache[self.dump] = pyramid
        except TypeError:
            pass
        self.set_pyramid(pyramid)
        self.sig_ready.emit(pyramid)

    def _on_failed(self, token: int, reason: str) -> None:
        """``reason`` is the worker's one line ("entropy failed: OSError: …")."""
        if token != self._token:
            return
        self.progress_bar.hide()
        self.status_label.setText(reason)
        self.sig_failed.emit(reason)

    def _on_finished(self, token: int) -> None:
        self._workers.pop(token, None)

    def closeEvent(self, event: Any) -> None:
        self.cancel()
        self._drop_fine()
        super().closeEvent(event)


def _confidence_name(value: Any) -> str:
    name = getattr(value, "name", None)
    return str(name).lower() if name else str(value)
