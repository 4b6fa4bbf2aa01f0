"""Editor images: what a thumbnail and the viewer cost to decode from memory, and what refusing a bomb costs.

    python benchmarks/bench_images.py [--runs 5]

Images are drawn with Qt (a 48 MP JPEG like a modern phone's, a 12 MP JPEG, a 12 MP PNG), encoded in
memory and decoded with ``companion.ui.attachments.decode_image`` at the thumbnail size (96 px), the viewer
size (2048 px), and, for comparison, fully with ``QImage.fromData``. A PNG header declaring 100,000 x 100,000
pixels shows the cost of refusing a decompression bomb. Median of ``--runs``; offscreen Qt platform."""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import time
import zlib
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def draw(width: int, height: int, fmt: str) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF
    from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter

    image = QImage(width, height, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    gradient = QLinearGradient(0, 0, width, height)
    gradient.setColorAt(0, QColor("#f6c89f"))
    gradient.setColorAt(1, QColor("#5d8f78"))
    painter.fillRect(image.rect(), gradient)
    for i in range(200):  # some detail, so the encoders have work to do
        painter.setPen(QColor((i * 37) % 255, (i * 91) % 255, (i * 13) % 255))
        painter.drawEllipse(QPointF((i * 7919) % width, (i * 104729) % height), 40 + i % 90, 30 + i % 70)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, fmt, 90 if fmt == "JPEG" else -1)
    return bytes(data)


def bomb() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10**6, 9))


def median(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    from companion.ui.attachments import THUMB, VIEW_MAX, decode_image

    _app = QApplication.instance() or QApplication(["bench"])
    cases = [
        ("JPEG 8000x6000 (48 MP)", draw(8000, 6000, "JPEG"), "image/jpeg"),
        ("JPEG 4000x3000 (12 MP)", draw(4000, 3000, "JPEG"), "image/jpeg"),
        ("PNG 4000x3000 (12 MP)", draw(4000, 3000, "PNG"), "image/png"),
    ]
    print(f"{'image':26} {'bytes':>10} {'thumb 96':>10} {'view 2048':>10} {'full':>10} {'full/thumb':>10}")
    for name, data, media in cases:
        thumb = median(lambda d=data, m=media: decode_image(d, m, THUMB), args.runs)
        view = median(lambda d=data, m=media: decode_image(d, m, VIEW_MAX), args.runs)
        full = median(lambda d=data: QImage.fromData(QByteArray(d)), args.runs)
        print(
            f"{name:26} {len(data):>10,} {thumb * 1000:>8.0f}ms {view * 1000:>8.0f}ms {full * 1000:>8.0f}ms "
            f"{full / thumb:>9.1f}x"
        )
    data = bomb()
    refused = median(lambda: decode_image(data, "image/png", THUMB), max(args.runs, 20))
    print(f"{'PNG bomb 100000x100000':26} {len(data):>10,} refused in {refused * 1000:.2f} ms (no decoding)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
