"""The entry list: a lazily paged ``QAbstractListModel`` and a delegate that draws rows as plain text.

Rows are ``EntrySummary`` values. The model never holds more than the pages scrolled to; the view asks for
more with ``canFetchMore``/``fetchMore`` and the next page is read on the vault worker (keyset paging through
``journal.recent(limit, after_id=…)``, or offset paging through search results). Search highlights arrive as
``\\x02…\\x03`` spans and are drawn with a background, never passed through HTML."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from companion.journal.entries import EntrySummary
from companion.journal.search import HIGHLIGHT_END, HIGHLIGHT_START, Filters
from companion.ui import theme

PAGE_SIZE = 50
DRAW_CHARS = 300  # never lay out more than this of any one field in a row
SummaryRole = Qt.ItemDataRole.UserRole + 1
IdRole = Qt.ItemDataRole.UserRole + 2
MOODS = {1: "very low", 2: "low", 3: "okay", 4: "good", 5: "very good"}


@dataclass(frozen=True)
class Query:
    """What the list shows: recent entries (no text, no filters), or search results."""

    text: str = ""
    filters: Filters = field(default_factory=Filters)

    @property
    def is_search(self) -> bool:
        return bool(self.text.strip()) or self.filters.active


def format_day(moment: datetime) -> str:
    return f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b %Y')}"


def split_marks(text: str) -> list[tuple[str, bool]]:
    """``"a \\x02b\\x03 c"`` → ``[("a ", False), ("b", True), (" c", False)]``; stray marks are dropped."""
    parts: list[tuple[str, bool]] = []
    marked = False
    current = []
    for ch in text:
        if ch == HIGHLIGHT_START or ch == HIGHLIGHT_END:
            if current:
                parts.append(("".join(current), marked))
                current = []
            marked = ch == HIGHLIGHT_START
            continue
        current.append(ch)
    if current:
        parts.append(("".join(current), marked))
    return parts


def one_line(text: str, limit: int = DRAW_CHARS) -> str:
    return " ".join(text[:limit].split())


class EntryListModel(QAbstractListModel):
    """Pages through entries on the vault worker. ``loaded`` fires after each page arrives."""

    loaded = Signal()

    def __init__(self, ops, parent=None) -> None:
        super().__init__(parent)
        self.ops = ops
        self.query = Query()
        self.rows: list[EntrySummary] = []
        self.exhausted = True
        self.loading = False
        self.total: int | None = None
        self._epoch = 0  # bumped on every reset: late pages of an older query are dropped

    # -- Qt model interface ----------------------------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == SummaryRole:
            return row
        if role == IdRole:
            return row.id
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            title = one_line(row.title) or "Untitled"
            return f"{title}, {format_day(row.created_at)}"
        if role == Qt.ItemDataRole.AccessibleDescriptionRole:
            bits = [
                one_line(row.snippet or row.preview, 120)
                .replace(HIGHLIGHT_START, "")
                .replace(HIGHLIGHT_END, "")
            ]
            if row.tags:
                bits.append("tags " + ", ".join(row.tags))
            if row.mood:
                bits.append(f"mood {MOODS[row.mood]}")
            return "; ".join(b for b in bits if b)
        return None

    def canFetchMore(self, parent=QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self.exhausted and not self.loading

    def fetchMore(self, parent=QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        self.loading = True
        epoch, query, offset = self._epoch, self.query, len(self.rows)
        after = self.rows[-1].id if self.rows else None

        def op(app):
            if epoch != self._epoch:  # typed on since: skip the stale search (its result would be dropped)
                return []
            if query.is_search:
                return app.journal.search(query.text, query.filters, limit=PAGE_SIZE, offset=offset)
            return app.journal.recent(PAGE_SIZE, after_id=after)

        self.ops.query_op(op).success(lambda rows: self._append(epoch, rows)).failure(
            lambda exc: self._failed(epoch, exc)
        ).run()

    # -- driving it ------------------------------------------------------------------------------------------

    def set_query(self, query: Query) -> None:
        """Show something else: clear, then load the first page."""
        self.query = query
        self.reset_empty()
        self.exhausted = False
        self.fetchMore()
        if query.is_search:
            epoch = self._epoch
            self.ops.query_op(
                lambda app: (
                    None if epoch != self._epoch else app.journal.search_count(query.text, query.filters)
                )
            ).success(lambda n: self._set_total(epoch, n)).run()

    def reset_empty(self) -> None:
        """Drop every row (used when locking): the list shows nothing and holds no entry text."""
        self.beginResetModel()
        self._epoch += 1
        self.rows = []
        self.exhausted = True
        self.loading = False
        self.total = None
        self.endResetModel()

    def refresh(self) -> None:
        """Re-read what is loaded (after a change), keeping rows in place when only their content changed."""
        epoch, query, count = self._epoch, self.query, max(len(self.rows), PAGE_SIZE)

        def op(app):
            if query.is_search:
                return app.journal.search(query.text, query.filters, limit=count)
            return app.journal.recent(count)

        self.ops.query_op(op).success(lambda rows: self._replace(epoch, rows, count)).run()

    def update_row(self, summary: EntrySummary) -> None:
        for i, row in enumerate(self.rows):
            if row.id == summary.id:
                self.rows[i] = replace(summary, snippet=row.snippet)
                self.dataChanged.emit(self.index(i), self.index(i))
                return

    def row_of(self, entry_id: int) -> int:
        for i, row in enumerate(self.rows):
            if row.id == entry_id:
                return i
        return -1

    # -- results ---------------------------------------------------------------------------------------------

    def _append(self, epoch: int, rows: list[EntrySummary]) -> None:
        if epoch != self._epoch:
            return
        self.loading = False
        if len(rows) < PAGE_SIZE:
            self.exhausted = True
        known = {row.id for row in self.rows}
        rows = [row for row in rows if row.id not in known]  # a refresh may have landed meanwhile
        if rows:
            start = len(self.rows)
            self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
            self.rows.extend(rows)
            self.endInsertRows()
        self.loaded.emit()

    def _failed(self, epoch: int, exc: BaseException) -> None:
        if epoch == self._epoch:
            self.loading = False
            self.exhausted = True
            self.ops.presenter.present(exc)

    def _set_total(self, epoch: int, total: int) -> None:
        if epoch == self._epoch:
            self.total = total
            self.loaded.emit()

    def _replace(self, epoch: int, rows: list[EntrySummary], count: int) -> None:
        if epoch != self._epoch:
            return
        if [r.id for r in rows] == [r.id for r in self.rows]:
            self.rows = rows
            if rows:
                self.dataChanged.emit(self.index(0), self.index(len(rows) - 1))
        else:
            self.layoutAboutToBeChanged.emit()
            old_ids = [r.id for r in self.rows]
            persistent = self.persistentIndexList()
            self.rows = rows
            new_pos = {r.id: i for i, r in enumerate(rows)}
            for index in persistent:
                entry_id = old_ids[index.row()] if index.row() < len(old_ids) else None
                pos = new_pos.get(entry_id, -1)
                self.changePersistentIndex(index, self.index(pos) if pos >= 0 else QModelIndex())
            self.layoutChanged.emit()
        self.exhausted = len(rows) < count
        self.loaded.emit()


class EntryDelegate(QStyledItemDelegate):
    """Draws a row: title and date, a one-line preview or highlighted snippet, tags and mood. Text only."""

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        fm = QFontMetrics(option.font)
        return QSize(200, fm.height() * 3 + 22)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ):
        row: EntrySummary | None = index.data(SummaryRole)
        if row is None:
            return
        t = theme.current()
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        rect = option.rect.adjusted(0, 0, 0, -1)
        painter.fillRect(rect, QColor(t.highlight if selected else t.base))
        painter.setPen(QColor(t.alternate_base))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        fg = QColor(t.highlighted_text if selected else t.text)
        muted = QColor(t.highlighted_text if selected else t.muted)
        inner = rect.adjusted(12, 7, -12, -7)
        base_font = option.font
        fm = QFontMetrics(base_font)
        line_h = fm.height()

        # line 1: title … date
        date_text = format_day(row.created_at)
        painter.setFont(base_font)
        date_w = fm.horizontalAdvance(date_text)
        painter.setPen(muted)
        painter.drawText(
            QRect(inner.right() - date_w, inner.top(), date_w, line_h), Qt.AlignmentFlag.AlignRight, date_text
        )
        title_font = QFont(option.font)
        title_font.setBold(True)
        painter.setFont(title_font)
        tfm = QFontMetrics(title_font)
        title = one_line(row.title) or "Untitled"
        title_w = inner.width() - date_w - 12
        painter.setPen(fg)
        painter.drawText(
            QRect(inner.left(), inner.top(), title_w, line_h),
            Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextSingleLine,
            tfm.elidedText(title, Qt.TextElideMode.ElideRight, title_w),
        )

        # line 2: snippet with highlights, or preview
        painter.setFont(base_font)
        y = inner.top() + line_h + 3
        text = one_line(row.snippet if row.snippet else row.preview)
        self._draw_marked(
            painter,
            text,
            inner.left(),
            y,
            inner.width(),
            line_h,
            fm,
            fg if row.snippet else muted,
            t,
            selected,
        )

        # line 3: mood dots and tags
        y += line_h + 3
        x = inner.left()
        if row.mood:
            d = max(6, line_h // 2)
            for i in range(5):
                colour = QColor(muted if i < row.mood else t.alternate_base if not selected else t.highlight)
                painter.setPen(muted)
                painter.setBrush(colour)
                painter.drawEllipse(x + i * (d + 3), y + (line_h - d) // 2, d, d)
            x += 5 * (d + 3) + 8
        if row.tags:
            painter.setPen(muted)
            tags = "  ".join("#" + one_line(tag, 64) for tag in row.tags[:12])
            painter.drawText(
                QRect(x, y, inner.right() - x, line_h),
                Qt.TextFlag.TextSingleLine,
                fm.elidedText(tags, Qt.TextElideMode.ElideRight, inner.right() - x),
            )
        painter.restore()

    @staticmethod
    def _draw_marked(painter, text, x, y, width, line_h, fm, colour, t, selected) -> None:
        right = x + width
        for part, marked in split_marks(text):
            if x >= right:
                break
            w = fm.horizontalAdvance(part)
            if x + w > right:
                part = fm.elidedText(part, Qt.TextElideMode.ElideRight, right - x)
                w = fm.horizontalAdvance(part)
            if marked:
                painter.fillRect(QRect(x, y, w, line_h), QColor(t.mark))
                painter.setPen(QColor(t.mark_text))
            else:
                painter.setPen(colour)
            painter.drawText(QRect(x, y, w + 2, line_h), Qt.TextFlag.TextSingleLine, part)
            x += w
