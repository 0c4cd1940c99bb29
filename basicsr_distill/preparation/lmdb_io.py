"""BasicSR-format LMDB writing and streaming reading (BasicSR's ``lmdb_util.py`` format: PNG values keyed by
image name, plus ``meta_info.txt``).

The writer grows its map on demand and renames the LMDB into place only when complete; the reader decodes one
image per call and opens lazily per process. Differences from BasicSR's writer: ``docs/design.md``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import lmdb
import numpy as np

from basicsr_distill.preparation.image_io import decode_image, encode_png
from basicsr_distill.utils import atomic_output

META_INFO = "meta_info.txt"
_META_LINE = re.compile(r"^(?P<name>\S+)\s+\((?P<h>\d+),\s*(?P<w>\d+),\s*(?P<c>\d+)\)\s+(?P<level>\d+)\s*$")


@dataclass(frozen=True)
class LmdbEntry:
    """One ``meta_info.txt`` line: the key (name without extension), its ``(h, w, c)`` shape and PNG level."""

    key: str
    shape: tuple[int, int, int]
    compress_level: int


def validate_key(key: str) -> str:
    """Check that ``key`` survives BasicSR's ``meta_info.txt`` parsing (``line.split('.')[0]``) and return it."""
    if not key or not key.isascii() or "." in key or any(ch.isspace() for ch in key) or "/" in key:
        raise ValueError(f"invalid LMDB key {key!r}: use ASCII without '.', '/' or spaces (keys are file stems)")
    return key


class LmdbWriter:
    """Write a BasicSR-format LMDB, atomically, with a map that grows to the real data size.

    Use as a context manager::

        with LmdbWriter("out/DIV2K_train_HR_sub.lmdb", compress_level=1) as writer:
            writer.put("0001_s001", img)                  # uint8 HWC BGR, encoded here
            writer.put("0001_s002", png_bytes, (h, w, 3))  # already PNG-encoded at compress_level

    The LMDB appears at ``lmdb_path`` only when the ``with`` block ends without an exception.

    Args:
        lmdb_path: Output folder; must end with ``.lmdb`` (BasicSR's datasets require it).
        compress_level: PNG compression level of the values (recorded in ``meta_info.txt``).
        overwrite: Replace an existing ``lmdb_path`` (only once the new one is complete).
        map_size: Initial map size in bytes (an estimate; it grows as needed).
        commit_bytes: Commit after this many value bytes (bounds the memory kept for replay).
        commit_every: Commit after this many images.
    """

    def __init__(
        self,
        lmdb_path: str | os.PathLike,
        compress_level: int = 1,
        overwrite: bool = False,
        map_size: int = 64 << 20,
        commit_bytes: int = 64 << 20,
        commit_every: int = 5000,
    ) -> None:
        self.lmdb_path = Path(lmdb_path)
        if self.lmdb_path.suffix != ".lmdb":
            raise ValueError(f"{self.lmdb_path}: an LMDB folder name must end with '.lmdb' (BasicSR requires it)")
        if self.lmdb_path.exists() and not overwrite:
            raise FileExistsError(f"{self.lmdb_path}: already exists (pass overwrite to replace it)")
        self.compress_level = compress_level
        self.map_size = max(int(map_size), 1 << 16)
        self.commit_bytes = commit_bytes
        self.commit_every = commit_every
        self.count = 0
        self._stack: contextlib.ExitStack | None = None
        self._env: lmdb.Environment | None = None
        self._txn: lmdb.Transaction | None = None
        self._pending: list[tuple[bytes, bytes]] = []
        self._pending_bytes = 0
        self._meta = None
        self.tmp_path: Path | None = None

    def __enter__(self) -> LmdbWriter:
        stack = contextlib.ExitStack()
        self.tmp_path = stack.enter_context(atomic_output(self.lmdb_path))
        try:
            self.tmp_path.mkdir(parents=True)
            with self._storage_errors():
                self._env = lmdb.open(str(self.tmp_path), map_size=self.map_size)
                self._txn = self._env.begin(write=True)
            self._meta = open(self.tmp_path / META_INFO, "w", encoding="ascii")  # noqa: SIM115
        except BaseException:
            self._close_handles()
            stack.__exit__(*sys.exc_info())
            raise
        self._stack = stack
        return self

    def put(self, key: str, img: np.ndarray | bytes, shape: Sequence[int] | None = None) -> None:
        """Store one image under ``key``: a ``uint8`` array (encoded here) or PNG bytes with their ``shape``."""
        if self._txn is None:
            raise RuntimeError("LmdbWriter.put outside its 'with' block")
        validate_key(key)
        if isinstance(img, np.ndarray):
            if img.dtype != np.uint8:
                raise ValueError(f"{key}: LMDB images must be uint8, got {img.dtype}")
            shape = img.shape if img.ndim == 3 else (*img.shape, 1)
            value = encode_png(img, self.compress_level)
        else:
            if shape is None or len(shape) != 3:
                raise ValueError(f"{key}: PNG bytes need their (h, w, c) shape")
            value = bytes(img)
        h, w, c = (int(v) for v in shape)
        record = (key.encode("ascii"), value)
        with self._storage_errors():
            self._put(record)
        self._pending.append(record)
        self._pending_bytes += len(value)
        self._meta.write(f"{key}.png ({h},{w},{c}) {self.compress_level}\n")
        self.count += 1
        if self._pending_bytes >= self.commit_bytes or len(self._pending) >= self.commit_every:
            with self._storage_errors():
                self._commit()

    def attach(self, name: str, text: str) -> None:
        """Write a small side file (e.g. a JSON manifest) into the LMDB folder; it appears with the LMDB."""
        if self.tmp_path is None:
            raise RuntimeError("LmdbWriter.attach outside its 'with' block")
        (self.tmp_path / name).write_text(text)

    @contextlib.contextmanager
    def _storage_errors(self) -> Iterator[None]:
        """LMDB's own errors (no space left on the device, an I/O error: not a full map, which grows) as a one-line
        ``OSError`` naming the LMDB being written."""
        try:
            yield
        except lmdb.Error as error:
            raise OSError(f"{self.lmdb_path}: {str(error).rsplit(': ', 1)[-1]}") from None

    def _put(self, record: tuple[bytes, bytes]) -> None:
        while True:
            try:
                stored = self._txn.put(*record, overwrite=False)
                break
            except lmdb.MapFullError:
                self._grow()
        if not stored:
            raise ValueError(f"{self.lmdb_path}: duplicate key {record[0].decode()!r}")

    def _grow(self) -> None:
        """Drop the open transaction, double the map and replay the uncommitted records into it."""
        while True:
            with contextlib.suppress(lmdb.Error):
                self._txn.abort()
            self.map_size *= 2
            self._env.set_mapsize(self.map_size)
            self._txn = self._env.begin(write=True)
            try:
                for key, value in self._pending:
                    self._txn.put(key, value, overwrite=False)
                return
            except lmdb.MapFullError:
                continue

    def _commit(self) -> None:
        while True:
            try:
                self._txn.commit()
                break
            except lmdb.MapFullError:  # a commit can need pages too
                self._grow()
        self._pending.clear()
        self._pending_bytes = 0
        self._txn = self._env.begin(write=True)

    def _close_handles(self) -> None:
        if self._txn is not None:
            with contextlib.suppress(lmdb.Error):
                self._txn.abort()
            self._txn = None
        if self._env is not None:
            self._env.close()
            self._env = None
        if self._meta is not None:
            self._meta.close()
            self._meta = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        try:
            if exc_type is None:
                with self._storage_errors():
                    self._commit()
                self._meta.flush()
                os.fsync(self._meta.fileno())
                with self._storage_errors():
                    self._env.sync(True)
        except BaseException:
            self._close_handles()
            stack.__exit__(*sys.exc_info())
            raise
        self._close_handles()
        stack.__exit__(exc_type, exc, tb)


def check_lmdb_folder(lmdb_path: str | os.PathLike) -> Path:
    """Check that ``lmdb_path`` is a BasicSR LMDB folder (``data.mdb`` and ``meta_info.txt``) and return it."""
    path = Path(lmdb_path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such LMDB")
    if not path.is_dir():
        raise NotADirectoryError(f"{path}: not an LMDB folder (BasicSR LMDBs are folders holding data.mdb)")
    if not (path / "data.mdb").is_file():
        raise FileNotFoundError(f"{path}: not an LMDB (data.mdb missing)")
    if not (path / META_INFO).is_file():
        raise FileNotFoundError(f"{path}: not a BasicSR LMDB (meta_info.txt missing)")
    return path


def read_lmdb_meta(lmdb_path: str | os.PathLike) -> list[LmdbEntry]:
    """The entries of a BasicSR LMDB's ``meta_info.txt``, in file order (malformed lines raise ``ValueError``)."""
    path = check_lmdb_folder(lmdb_path)
    entries = []
    with open(path / META_INFO, encoding="utf-8") as meta:
        for number, line in enumerate(meta, 1):
            if not line.strip():
                continue
            match = _META_LINE.match(line)
            if match is None:
                raise ValueError(
                    f"{path / META_INFO}:{number}: malformed line {line.strip()!r} (expected 'name.png (h,w,c) level')"
                )
            shape = (int(match["h"]), int(match["w"]), int(match["c"]))
            entries.append(LmdbEntry(match["name"].split(".")[0], shape, int(match["level"])))
    return entries


def read_lmdb_keys(lmdb_path: str | os.PathLike) -> list[str]:
    """The keys of a BasicSR LMDB (image names without extension), from ``meta_info.txt``, in file order."""
    return [entry.key for entry in read_lmdb_meta(lmdb_path)]


#: Read-only environments open in this process: (pid, real path) -> [env, number of readers using it].
#: py-lmdb refuses to open one LMDB twice in a process, so readers of the same path share one.
_OPEN_ENVS: dict[tuple[int, str], list] = {}


def _acquire_env(path: Path) -> lmdb.Environment:
    key = (os.getpid(), os.path.realpath(path))
    if key not in _OPEN_ENVS:
        try:
            env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
        except lmdb.Error as error:
            raise ValueError(
                f"{path}: cannot open LMDB ({error}); py-lmdb opens an LMDB once per process: "
                "close other handles on it first (e.g. a BasicSR dataset's)"
            ) from None
        _OPEN_ENVS[key] = [env, 0]
    _OPEN_ENVS[key][1] += 1
    return _OPEN_ENVS[key][0]


def _release_env(path: Path) -> None:
    key = (os.getpid(), os.path.realpath(path))
    entry = _OPEN_ENVS.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        entry[0].close()
        del _OPEN_ENVS[key]


class LmdbReader:
    """Stream images out of a BasicSR LMDB, one decode per request.

    ``reader[key]`` / :meth:`get` return ``uint8`` BGR ``(H, W, 3)``; iterating yields ``(key, image)``
    in ``meta_info.txt`` order. The environment opens lazily in each process, so a reader may be
    pickled into DataLoader workers; readers of one path in one process share it. py-lmdb opens an
    LMDB only once per process, so close readers (or use them) before a BasicSR dataset opens the
    same LMDB in the same process, or the other way round.
    """

    def __init__(self, lmdb_path: str | os.PathLike) -> None:
        self.lmdb_path = check_lmdb_folder(lmdb_path)
        self.entries = read_lmdb_meta(self.lmdb_path)
        self._env: lmdb.Environment | None = None
        self._pid: int | None = None

    @property
    def keys(self) -> list[str]:
        return [entry.key for entry in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def env(self) -> lmdb.Environment:
        if self._env is None or self._pid != os.getpid():
            self._env = _acquire_env(self.lmdb_path)
            self._pid = os.getpid()
        return self._env

    def get_bytes(self, key: str) -> bytes:
        """The stored (PNG) bytes of ``key``; ``KeyError`` naming the LMDB when absent."""
        with self.env.begin(write=False, buffers=False) as txn:
            value = txn.get(key.encode("ascii"))
        if value is None:
            raise KeyError(f"{self.lmdb_path}: no key {key!r}")
        return value

    def get(self, key: str) -> np.ndarray:
        """Decode the image stored under ``key``."""
        return decode_image(self.get_bytes(key), f"{self.lmdb_path}[{key}]")

    __getitem__ = get

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        for entry in self.entries:
            yield entry.key, self.get(entry.key)

    def close(self) -> None:
        if self._env is not None and self._pid == os.getpid():
            _release_env(self.lmdb_path)
        self._env = None

    def __enter__(self) -> LmdbReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_env": None, "_pid": None}


def read_lmdb_image(env_or_path: lmdb.Environment | LmdbReader | str | os.PathLike, key: str) -> np.ndarray:
    """Read one image: from an open ``lmdb.Environment``, an :class:`LmdbReader`, or an LMDB path."""
    if isinstance(env_or_path, LmdbReader):
        return env_or_path.get(key)
    if isinstance(env_or_path, lmdb.Environment):
        with env_or_path.begin(write=False) as txn:
            value = txn.get(key.encode("ascii"))
        if value is None:
            raise KeyError(f"{env_or_path.path()}: no key {key!r}")
        return decode_image(value, f"{env_or_path.path()}[{key}]")
    with LmdbReader(env_or_path) as reader:
        return reader.get(key)


def check_paired_keys(gt_path: str | os.PathLike, lq_path: str | os.PathLike, examples: int = 5) -> list[str]:
    """Check that a GT and an LQ LMDB hold the same key set; return the GT keys in their order.

    Raises:
        ValueError: the key sets differ (with counts and examples of each side's extra keys) or an
            LMDB lists a key twice.
    """
    keys = {}
    for side, path in (("GT", gt_path), ("LQ", lq_path)):
        keys[side] = read_lmdb_keys(path)
        seen: set[str] = set()
        duplicates = sorted({key for key in keys[side] if key in seen or seen.add(key)})
        if duplicates:
            raise ValueError(f"{path}: {len(duplicates)} duplicate keys in meta_info.txt, e.g. {duplicates[:examples]}")
    check_same_keys(gt_path, lq_path, set(keys["GT"]), set(keys["LQ"]), examples)
    return keys["GT"]


def check_same_keys(
    gt_where: str | os.PathLike,
    lq_where: str | os.PathLike,
    gt: set[str],
    lq: set[str],
    examples: int = 5,
    note: str = "",
) -> None:
    """Raise ``ValueError`` naming both places, the counts and examples of each side's extra keys, if ``gt != lq``."""
    if gt != lq:
        only_gt, only_lq = sorted(gt - lq), sorted(lq - gt)
        raise ValueError(
            f"{gt_where} and {lq_where}: GT and LQ key sets differ ({len(gt)} vs {len(lq)} keys): "
            f"{len(only_gt)} only in GT (e.g. {only_gt[:examples]}), "
            f"{len(only_lq)} only in LQ (e.g. {only_lq[:examples]}){note}"
        )
