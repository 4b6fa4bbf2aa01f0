"""The one-page PDF summary of an attendance report: a table and a bar chart (QPdfWriter + QPainter).

Called lazily by ``companion.attendance.output`` only for ``--format pdf`` (the only attendance code that
touches Qt). It draws only what the report holds — period labels, format names, published cells and the method
— and the file carries no title, author, creator, producer, creation date or random document id: Qt writes a
producer string and timestamps of its own into the information dictionary, which `pdf_common.scrub_info` blanks in
place (keeping every byte offset valid), and its XMP packet is replaced by an empty one.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QPainter,
    QPdfWriter,
    QPen,
)

from companion.attendance.output import Report
from companion.attendance.report import FORMAT_LABELS, MEASURE_LABELS, MEASURES
from companion.errors import InvalidInputError
from companion.ui.pdf_common import render

FULL_TABLE_PERIODS = 12  # up to this many periods the table shows every format
MAX_PERIODS = 40
HEADERS = ("Period", "Format", *(MEASURE_LABELS[m].replace(" attendees", "") for m in MEASURES))


def render_pdf(report: Report) -> bytes:
    """The summary as PDF bytes. At most :data:`MAX_PERIODS` periods fit on its one page."""
    if len(report.labels) > MAX_PERIODS:
        raise InvalidInputError(
            f"A PDF summary fits at most {MAX_PERIODS} periods on its one page; this report has "
            f"{len(report.labels)}. Choose a shorter range, or --format csv or json. Nothing was written."
        )

    def draw(writer: QPdfWriter) -> None:
        painter = QPainter(writer)
        try:
            _draw(painter, report, writer.width(), writer.height(), writer.resolution() / 25.4)
        finally:
            painter.end()

    return render(15, draw)


def _draw(p: QPainter, report: Report, width: int, height: int, mm: float) -> None:
    y = 0.0
    p.setPen(QColor("#111111"))
    p.setFont(QFont("DejaVu Sans", 16, QFont.Weight.Bold))
    p.drawText(QRectF(0, y, width, 10 * mm), Qt.AlignmentFlag.AlignLeft, "Attendance summary")
    y += 11 * mm
    meta = report.meta
    period = meta["period"]
    method = meta["profile"]["name"]
    if meta["epsilon"] is not None:
        method = f"differential privacy, epsilon {meta['epsilon']:g} per period"
    p.setFont(QFont("DejaVu Sans", 9))
    lines = [
        f"{period['count']} {period['kind']}(s): {period['first']} to {period['last']}.  Method: {method}.",
        _method_note(report),
    ]
    for line in lines:
        rect = QRectF(0, y, width, 14 * mm)
        used = p.boundingRect(rect, int(Qt.TextFlag.TextWordWrap), line)
        p.drawText(rect, int(Qt.TextFlag.TextWordWrap), line)
        y += used.height() + 1.5 * mm

    chart_h = 60 * mm
    foot_h = 14 * mm
    rows = list(report.rows)
    if (
        len(report.labels) > FULL_TABLE_PERIODS
    ):  # one page: the "all formats" rows only; the files have the rest
        rows = [r for r in rows if r["format"] == "all"]
        p.drawText(
            QRectF(0, y, width, 5 * mm),
            int(Qt.AlignmentFlag.AlignLeft),
            f"More than {FULL_TABLE_PERIODS} periods: all formats together here; the CSV or JSON report "
            "has each format.",
        )
        y += 5 * mm
    avail = height - y - chart_h - foot_h - 8 * mm
    row_h = max(2.4 * mm, min(6 * mm, avail / (len(rows) + 1)))
    y = _table(p, rows, y + 2 * mm, width, row_h, mm)
    _chart(p, report, QRectF(0, y + 5 * mm, width, chart_h), mm)
    p.setFont(QFont("DejaVu Sans", 7))
    p.setPen(QColor("#444444"))
    foot = (
        f"Counts only: no names or dates of meetings. Hidden cells are marked; see the method above. "
        f"Generated {meta['generated']}."
    )
    p.drawText(QRectF(0, height - foot_h, width, foot_h), int(Qt.TextFlag.TextWordWrap), foot)


def _method_note(report: Report) -> str:
    params = report.meta["profile"]["parameters"]
    if report.meta["epsilon"] is not None:
        return (
            "Each count has integer (discrete Laplace) noise added; at most "
            f"{params['max_attendances_per_person']} attendances per person per period are counted."
        )
    return str(params.get("description", ""))


def _table(p: QPainter, rows: list[dict], top: float, width: int, row_h: float, mm: float) -> float:
    first_w = [0.12, 0.16]
    rest = (1 - sum(first_w)) / len(MEASURES)
    widths = [w * width for w in (*first_w, *(rest,) * len(MEASURES))]
    size = max(4.5, min(8.5, row_h / mm * 1.6))
    p.setFont(QFont("DejaVu Sans", size, QFont.Weight.Bold))
    x = 0.0
    for header, w in zip(HEADERS, widths, strict=True):
        align = Qt.AlignmentFlag.AlignLeft if x == 0 or header == "Format" else Qt.AlignmentFlag.AlignRight
        p.drawText(
            QRectF(x + 1 * mm, top, w - 2 * mm, row_h), int(align | Qt.AlignmentFlag.AlignVCenter), header
        )
        x += w
    y = top + row_h
    p.setPen(QPen(QColor("#888888"), 0.2 * mm))
    p.drawLine(0, int(y), width, int(y))
    p.setFont(QFont("DejaVu Sans", size))
    hidden_fill = QColor("#e6e6e6")
    for i, row in enumerate(rows):
        if row["format"] == "all":
            p.fillRect(QRectF(0, y, width, row_h), QColor("#f3f6fa"))
        first_of_period = i == 0 or rows[i - 1]["period"] != row["period"]
        cells = [
            row["period"] if first_of_period else "",
            FORMAT_LABELS.get(row["format"], row["format"]),
            *(row[m] for m in MEASURES),
        ]
        x = 0.0
        for j, (value, w) in enumerate(zip(cells, widths, strict=True)):
            rect = QRectF(x + 1 * mm, y, w - 2 * mm, row_h)
            if j >= 2 and isinstance(value, str):
                p.fillRect(QRectF(x + 0.5 * mm, y + 0.3 * mm, w - 1 * mm, row_h - 0.6 * mm), hidden_fill)
            align = Qt.AlignmentFlag.AlignLeft if j < 2 else Qt.AlignmentFlag.AlignRight
            p.setPen(QColor("#111111"))
            p.drawText(rect, int(align | Qt.AlignmentFlag.AlignVCenter), "–" if value is None else str(value))
            x += w
        y += row_h
        if row["format"] == "all":
            p.setPen(QPen(QColor("#cccccc"), 0.15 * mm))
            p.drawLine(0, int(y), width, int(y))
    return y


def _chart(p: QPainter, report: Report, box: QRectF, mm: float) -> None:
    """Attendances per period (all formats): hidden values as outlined, hatched bars at the threshold."""
    bars = [(r["period"], r["attendances"]) for r in report.rows if r["format"] == "all"]
    p.setFont(QFont("DejaVu Sans", 8, QFont.Weight.Bold))
    p.setPen(QColor("#111111"))
    p.drawText(
        QRectF(box.left(), box.top(), box.width(), 5 * mm),
        int(Qt.AlignmentFlag.AlignLeft),
        "Attendances per period, all formats",
    )
    plot = QRectF(box.left() + 12 * mm, box.top() + 7 * mm, box.width() - 14 * mm, box.height() - 14 * mm)
    numbers = [v for _, v in bars if isinstance(v, int)]
    hidden_level = 10
    top = max([*numbers, hidden_level, 1])
    p.setPen(QPen(QColor("#888888"), 0.2 * mm))
    p.drawLine(plot.bottomLeft(), plot.bottomRight())
    p.setFont(QFont("DejaVu Sans", 6))
    p.drawText(
        QRectF(box.left(), plot.top() - 2 * mm, 11 * mm, 4 * mm), int(Qt.AlignmentFlag.AlignRight), str(top)
    )
    p.drawText(
        QRectF(box.left(), plot.bottom() - 2 * mm, 11 * mm, 4 * mm), int(Qt.AlignmentFlag.AlignRight), "0"
    )
    if not bars:
        return
    slot = plot.width() / len(bars)
    bar_w = max(0.6 * mm, slot * 0.6)
    label_every = max(1, round(len(bars) / 12))
    for i, (label, value) in enumerate(bars):
        x = plot.left() + i * slot + (slot - bar_w) / 2
        if isinstance(value, int):
            h = plot.height() * value / top
            p.fillRect(QRectF(x, plot.bottom() - h, bar_w, h), QColor("#4a78b5"))
        else:
            h = plot.height() * hidden_level / top
            p.setPen(QPen(QColor("#777777"), 0.2 * mm))
            p.setBrush(QBrush(QColor("#999999"), Qt.BrushStyle.BDiagPattern))
            p.drawRect(QRectF(x, plot.bottom() - h, bar_w, h))
            p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QColor("#111111"))
        shown = "–" if value is None else str(value)
        p.drawText(
            QRectF(x - 4 * mm, plot.bottom() - h - 4 * mm, bar_w + 8 * mm, 3.5 * mm),
            int(Qt.AlignmentFlag.AlignHCenter),
            shown,
        )
        if i % label_every == 0:
            p.drawText(
                QRectF(x - 6 * mm, plot.bottom() + 1 * mm, bar_w + 12 * mm, 4 * mm),
                int(Qt.AlignmentFlag.AlignHCenter),
                label,
            )
