"""Image reading, listing and PNG encoding for data preparation, in BasicSR's conventions.

Images are ``uint8`` ``(H, W, 3)`` **BGR** arrays, as ``cv2.imread`` gives them, so outputs read back bit-exactly
through BasicSR's datasets. Grayscale, alpha and 16-bit inputs are normalised with a warning; an undecodable file
is one line naming it. Details: ``docs/design.md``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from basicsr.utils import get_root_logger

from basicsr_distill.utils import atomic_output

#: Extensions (lower case) that :func:`list_images` picks up.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def decode_image(buffer: bytes | np.ndarray, name: str | os.PathLike) -> np.ndarray:
    """Decode an encoded image (PNG, JPEG, ...) to ``uint8`` BGR ``(H, W, 3)``; ``name`` is used in messages."""
    data = np.frombuffer(buffer, dtype=np.uint8) if isinstance(buffer, (bytes, bytearray, memoryview)) else buffer
    img = None
    native: list[str] = []
    if data.size:
        # The failure becomes our one-line ValueError: keep OpenCV's own "[ WARN ]" lines off stderr, and libpng's
        # "libpng error: ..." (printed to the stderr file descriptor at any OpenCV log level) too.
        previous = cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            with native_stderr_captured() as native:
                img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        finally:
            cv2.utils.logging.setLogLevel(previous)
    if img is None:
        detail = "; ".join(line.strip() for line in native if line.strip())
        raise ValueError(f"{name}: cannot decode image (corrupt or not an image{': ' + detail if detail else ''})")
    return to_bgr_uint8(img, name)


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[list[str]]:
    """Point file descriptor 2 at a temporary file while native code runs; yield the list of lines it printed
    (filled on exit). Lines that are not libpng's go back to stderr, so nothing another thread printed is lost."""
    lines: list[str] = []
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            lines.extend(line for line in text.splitlines() if line.startswith("libpng"))
            others = "".join(line + "\n" for line in text.splitlines() if not line.startswith("libpng"))
            if others:
                os.write(2, others.encode())


def to_bgr_uint8(img: np.ndarray, name: str | os.PathLike) -> np.ndarray:
    """Normalise a decoded image to ``uint8`` BGR ``(H, W, 3)``, warning about each conversion."""
    logger = get_root_logger()
    if img.dtype == np.uint16:
        logger.warning(f"{name}: 16-bit image converted to 8 bits (round(v / 257))")
        img = np.round(img.astype(np.float32) / 257.0).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ValueError(f"{name}: unsupported sample type {img.dtype} (expected 8- or 16-bit integer pixels)")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        logger.warning(f"{name}: grayscale image converted to 3-channel")
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim != 3:
        raise ValueError(f"{name}: unsupported image shape {img.shape}")
    channels = img.shape[2]
    if channels == 2:  # gray + alpha
        logger.warning(f"{name}: grayscale+alpha image converted to 3-channel (alpha dropped)")
        return cv2.cvtColor(np.ascontiguousarray(img[:, :, 0]), cv2.COLOR_GRAY2BGR)
    if channels == 4:
        logger.warning(f"{name}: RGBA image converted to 3-channel (alpha dropped)")
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if channels != 3:
        raise ValueError(f"{name}: unsupported number of channels {channels}")
    return img


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as ``uint8`` BGR ``(H, W, 3)`` (see the module docstring for conversions).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file cannot be decoded, or has an unsupported sample type.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    return decode_image(np.fromfile(str(path), dtype=np.uint8), path)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image file, from its header (no decoding); a file whose header PIL cannot read is
    decoded (:func:`read_image`, so an undecodable file is the one-line error naming it)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # a very large image is no "decompression bomb" here: only its size is read
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        height, width = read_image(path).shape[:2]
        return width, height


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files directly inside ``folder`` (extensions :data:`IMAGE_EXTENSIONS`), sorted by name.

    Hidden files (names starting with ``.``, such as this package's temporary files) are skipped.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        NotADirectoryError: ``folder`` is not a directory.
        ValueError: ``folder`` contains no image.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder")
    images = sorted(
        entry
        for entry in folder.iterdir()
        if not entry.name.startswith(".") and entry.suffix.lower() in IMAGE_EXTENSIONS and entry.is_file()
    )
    if not images:
        raise ValueError(f"{folder}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return images


def check_compress_level(compress_level: int) -> None:
    """Refuse a PNG compression level outside zlib's 0..9 (the tools check it before making any folder)."""
    if not 0 <= compress_level <= 9:
        raise ValueError(f"compress_level must be in 0..9, got {compress_level}")


def encode_png(img: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG-encode a ``uint8`` image (BGR or gray) with zlib ``compress_level`` 0..9, as BasicSR's LMDB tools do."""
    check_compress_level(compress_level)
    ok, buffer = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:
        raise ValueError(f"cannot PNG-encode an image of shape {img.shape} and type {img.dtype}")
    return buffer.tobytes()


def write_png(path: str | os.PathLike, img: np.ndarray, compress_level: int = 1) -> None:
    """Write ``img`` as a PNG at ``path`` atomically: a hidden temporary sibling renamed into place.

    A reader never sees a half-written file, and an interrupted write leaves only a hidden
    ``.<name>.tmp-<pid>`` file, which :func:`list_images` ignores.
    """
    with atomic_output(path) as tmp:
        tmp.write_bytes(encode_png(img, compress_level))
