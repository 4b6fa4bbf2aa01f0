"""Images attached to an entry: a strip of thumbnails in the editor, and a viewer for one image.

The bytes live only in the vault (encrypted BLOBs) and in memory: they are fetched with
``app.transfer.attachment_data(id)`` on the vault worker and decoded from memory
(``QBuffer`` + ``QImageReader``).
Nothing is written to disk: no temporary files, no thumbnail cache.

Image data is untrusted (an import may carry anything). :func:`decode_image` therefore

- decodes only the format the stored media type names (never SVG, XPM or other formats Qt would guess from
  content),
- reads the declared size from the header first and refuses more than :data:`MAX_PIXELS` pixels or a side over
  :data:`MAX_SIDE` *before* decoding (a decompression bomb stays a few bytes), and asks the decoder for the
  scaled size directly (JPEG decodes scaled, so a large photo costs little memory),
- keeps Qt's allocation limit in place as a second fence, and
- runs off the GUI thread (on the network pool: decoding never holds up the vault worker or the window).

A truncated or malformed image decodes to nothing and shows as a labelled placeholder.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QImageReader, QKeySequence, QPainter, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from companion.journal.attachments import Attachment
from companion.ui.dialogs import ask, plain_tip

MAX_PIXELS = 50_000_000  # a 48 MP phone photo fits; 50 MP of RGBA is 200 MB, under Qt's 256 MB limit
MAX_SIDE = 20_000
THUMB = 96  # thumbnail box, in pixels
VIEW_MAX = 2048  # the viewer decodes at most this many pixels on the long side
ALLOCATION_LIMIT_MB = 256

# The stored media type decides the decoder; anything else is never handed to Qt's format guessing.
_FORMATS = {"image/jpeg": b"jpeg", "image/png": b"png", "image/gif": b"gif", "image/webp": b"webp"}


@dataclass(frozen=True)
class Decoded:
    """The result of decoding untrusted image bytes: an image, or a reason it is not shown."""

    image: QImage | None
    width: int = 0
    height: int = 0
    problem: str = ""


def decode_image(data: bytes, media_type: str, box: int) -> Decoded:
    """Decode ``data`` from memory, scaled to fit a ``box`` x ``box`` square; refuse hostile sizes first.

    Safe on any thread (``QImage`` only, no ``QPixmap``).
    """
    fmt = _FORMATS.get(media_type)
    if fmt is None:
        return Decoded(None, problem="This kind of image cannot be shown here.")
    if QImageReader.allocationLimit() == 0 or QImageReader.allocationLimit() > ALLOCATION_LIMIT_MB:
        QImageReader.setAllocationLimit(ALLOCATION_LIMIT_MB)
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer, QByteArray(fmt))
    reader.setDecideFormatFromContent(False)
    reader.setAutoTransform(True)
    size = reader.size()  # from the header only
    width, height = size.width(), size.height()
    if width <= 0 or height <= 0:
        return Decoded(None, problem="This image is damaged or incomplete.")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        return Decoded(
            None,
            width,
            height,
            f"This image is too large to show ({width:,} × {height:,} pixels).",
        )
    scale = min(1.0, box / max(width, height))
    if scale < 1.0:
        reader.setScaledSize(QSize(max(1, round(width * scale)), max(1, round(height * scale))))
    image = reader.read()
    buffer.close()
    if image.isNull():
        return Decoded(None, width, height, "This image is damaged or incomplete.")
    if max(image.width(), image.height()) > box:  # formats that ignore setScaledSize
        image = image.scaled(
            box, box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    return Decoded(image, width, height)


def _placeholder(size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setPen(QColor(128, 128, 128))
    painter.drawRect(4, 4, size - 9, size - 9)
    painter.drawLine(4, 4, size - 5, size - 5)
    painter.drawLine(size - 5, 4, 4, size - 5)
    painter.end()
    return pixmap


def describe(att: Attachment) -> str:
    kind = att.media_type.removeprefix("image/").upper()
    size = f"{att.size / 1024:,.0f} KB" if att.size < 1024 * 1024 else f"{att.size / (1024 * 1024):,.1f} MB"
    return f"{att.name or 'Image'} ({kind}, {size})"


class AttachmentStrip(QWidget):
    """Thumbnails of the open entry's images with Add, View and Remove. Keyboard: Enter views, Delete removes.

    ``set_entry(id | None)`` loads (None: nothing to show, Add disabled until the entry is saved);
    ``clear_for_lock()`` forgets every image.
    """

    loaded = Signal(int)  # how many attachments are shown (after each load)
    thumb_ready = Signal(int)  # an attachment id whose thumbnail (or placeholder with a reason) is in place
    changed = Signal()  # an image was added or removed

    def __init__(self, ops, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops = ops
        self.entry_id: int | None = None
        self.items: list[Attachment] = []
        self.problems: dict[int, str] = {}  # attachment id -> why it is not shown
        self.thumbs: dict[int, QSize] = {}  # attachment id -> size of the thumbnail shown
        self._token = 0
        self.viewer: ImageViewer | None = None
        self.setAccessibleName("Images")

        self.list = QListWidget()
        self.list.setObjectName("AttachmentList")
        self.list.setViewMode(QListWidget.ViewMode.ListMode)  # no text row under the icon
        self.list.setFlow(QListWidget.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setSpacing(3)
        self.list.setFixedHeight(THUMB + 22)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setAccessibleName("Attached images")
        self.list.setAccessibleDescription(
            "Images attached to this entry, stored encrypted in the journal. Enter shows one larger, "
            "Delete removes it."
        )
        self.add_button = QPushButton("Add image…")
        self.add_button.setAccessibleName("Add image")
        self.add_button.setAccessibleDescription(
            "Attach a JPEG, PNG, GIF or WebP image to this entry; it is copied into the encrypted journal"
        )
        self.view_button = QPushButton("View")
        self.view_button.setAccessibleName("View image")
        self.view_button.setAccessibleDescription("Show the selected image larger (Enter)")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setAccessibleName("Remove image")
        self.remove_button.setAccessibleDescription("Remove the selected image from this entry (Delete)")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.view_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addWidget(self.list)
        column.addLayout(buttons)

        self.add_button.clicked.connect(self.choose_file)
        self.view_button.clicked.connect(self.view_current)
        self.remove_button.clicked.connect(self.remove_current)
        self.list.itemActivated.connect(lambda _item: self.view_current())
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.list)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.remove_current)
        self._update_buttons()
        self.hide()

    # -- public ----------------------------------------------------------------------------------------------

    def set_entry(self, entry_id: int | None) -> None:
        self.entry_id = entry_id
        self._clear()
        self.setVisible(entry_id is not None)
        self._update_buttons()
        if entry_id is not None:
            self.reload()

    def reload(self) -> None:
        entry_id = self.entry_id
        if entry_id is None:
            return
        self._token += 1
        token = self._token
        self.ops.query_op(lambda app: app.transfer.attachments(entry_id)).success(
            lambda items: self._listed(token, items)
        ).run()

    def clear_for_lock(self) -> None:
        self.entry_id = None
        self._clear()
        if self.viewer is not None:
            self.viewer.clear()
        self.hide()

    def choose_file(self) -> None:
        if self.entry_id is None:
            return
        path, _f = QFileDialog.getOpenFileName(
            self, "Attach an image", "", "Images (*.jpg *.jpeg *.png *.gif *.webp *.heic);;All files (*)"
        )
        if path:
            self.add_file(path)

    def add_file(self, path) -> None:
        """Copy the image at ``path`` into the vault and attach it to the open entry."""
        entry_id = self.entry_id
        if entry_id is None:
            return
        self.ops.collection_op(lambda app: app.transfer.add_attachment_file(entry_id, path)).success(
            lambda _att: (self.reload(), self.changed.emit())
        ).run()

    def current(self) -> Attachment | None:
        row = self.list.currentRow()
        return self.items[row] if 0 <= row < len(self.items) else None

    def view_current(self) -> None:
        att = self.current()
        if att is None:
            return
        self.viewer = ImageViewer(self.ops, att, self.window())
        self.viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.viewer.destroyed.connect(lambda _o=None: setattr(self, "viewer", None))
        self.viewer.open()

    def remove_current(self, *, confirm: bool = True) -> None:
        att = self.current()
        if att is None:
            return
        if confirm and not ask(
            self,
            "Remove image",
            f"Remove {att.name or 'this image'} from the entry? It is deleted from the journal for good.",
        ):
            return
        self.ops.collection_op(lambda app: app.transfer.remove_attachment(att.id)).success(
            lambda _att: (self.reload(), self.changed.emit())
        ).run()

    # -- internals -------------------------------------------------------------------------------------------

    def _clear(self) -> None:
        self._token += 1
        self.items = []
        self.problems = {}
        self.thumbs = {}
        self.list.clear()
        self._update_buttons()

    def _listed(self, token: int, items: list[Attachment]) -> None:
        if token != self._token:
            return
        self.list.clear()
        self.items = list(items)
        placeholder = QIcon(_placeholder(THUMB))
        for att in self.items:
            item = QListWidgetItem(placeholder, "")
            item.setSizeHint(QSize(THUMB + 8, THUMB + 8))
            text = describe(att)
            item.setToolTip(plain_tip(text))
            item.setData(Qt.ItemDataRole.AccessibleTextRole, text)
            item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, "Image attached to this entry")
            self.list.addItem(item)
        if self.items:
            self.list.setCurrentRow(0)
        self._update_buttons()
        self.loaded.emit(len(self.items))
        self._load_thumb(token, 0)

    def _load_thumb(self, token: int, row: int) -> None:
        """One image at a time (bytes, then decode, then the next): at most one image's bytes in memory."""
        if token != self._token or row >= len(self.items):
            return
        att = self.items[row]
        media = att.media_type

        def decoded(result: Decoded) -> None:
            if token != self._token or row >= self.list.count():
                return
            item = self.list.item(row)
            if result.image is None:
                self.problems[att.id] = result.problem
                item.setToolTip(plain_tip(f"{describe(att)}: {result.problem}"))
                item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, result.problem)
            else:
                pixmap = QPixmap.fromImage(result.image)
                icon = QIcon(pixmap)
                icon.addPixmap(pixmap, QIcon.Mode.Selected)  # not tinted when selected
                item.setIcon(icon)
                self.thumbs[att.id] = result.image.size()
            self.thumb_ready.emit(att.id)
            self._load_thumb(token, row + 1)

        def unreadable(_exc: BaseException) -> None:  # e.g. removed meanwhile: a placeholder, then go on
            decoded(Decoded(None, problem="This image could not be read."))

        def fetched(data: bytes) -> None:
            if token == self._token:
                self.ops.network_op(lambda: decode_image(data, media, THUMB)).success(decoded).failure(
                    unreadable
                ).run()

        # bytes from the vault worker, then decoding on the pool (never the GUI thread or the vault worker)
        self.ops.query_op(lambda app: app.transfer.attachment_data(att.id)).success(fetched).failure(
            unreadable
        ).run()

    def _update_buttons(self) -> None:
        has = self.current() is not None
        self.add_button.setEnabled(self.entry_id is not None)
        self.list.setVisible(bool(self.items))  # compact when there are no images: just "Add image…"
        for button in (self.view_button, self.remove_button):
            button.setEnabled(has)
            button.setVisible(bool(self.items))


class ImageViewer(QDialog):
    """One image, larger (decoded to at most :data:`VIEW_MAX` pixels on the long side), from memory."""

    shown_image = Signal(bool)  # True when a picture is shown, False for a placeholder message

    def __init__(self, ops, att: Attachment, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Image")
        self.setAccessibleName("Image viewer")
        self.setAccessibleDescription(describe(att))
        self.image: QImage | None = None  # the decoded image (at most VIEW_MAX on the long side)
        self.picture = QLabel("Loading…")
        self.picture.setTextFormat(Qt.TextFormat.PlainText)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(200, 150)
        self.picture.setAccessibleName("Image")
        self.picture.setAccessibleDescription(describe(att))
        self.caption = QLabel(describe(att))
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setObjectName("Muted")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAccessibleName("Close")
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.caption)
        layout.addWidget(buttons)
        self.resize(820, 640)
        media = att.media_type
        ops.query_op(lambda app: app.transfer.attachment_data(att.id)).success(
            lambda data: ops.network_op(lambda: decode_image(data, media, VIEW_MAX)).success(self._show).run()
        ).run()

    def _show(self, result: Decoded) -> None:
        if not isValid(self) or not self.isVisible():  # closed (and deleted) while decoding
            return
        if result.image is None:
            self.picture.setText(result.problem)
            self.shown_image.emit(False)
            return
        self.image = result.image
        self._fit()
        self.shown_image.emit(True)

    def _fit(self) -> None:
        """Show the image scaled to fit the window (never enlarged)."""
        if self.image is None:
            return
        box = self.picture.size()
        image = self.image
        if image.width() > box.width() or image.height() > box.height():
            image = image.scaled(
                box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        self.picture.setPixmap(QPixmap.fromImage(image))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def clear(self) -> None:
        self.image = None
        self.picture.clear()
        self.caption.clear()

    def done(self, result: int) -> None:
        self.clear()
        super().done(result)
