"""FilesystemModelStore: the embedded model store, a folder per game under one root.

    <root>/<env_id>/v000042/{model.onnx, model.int8.onnx (optional), checkpoint.pt, meta.json}
    <root>/<env_id>/model.onnx     (the latest ONNX, for tools that want a fixed path)
    <root>/<env_id>/latest, best   (pointers)

Every file is written to a temporary name in its own folder, fsynced and renamed,
so a reader sees the old file or the new one, never a partial one. A publisher
claims its version by creating the version folder (mkdir is atomic and fails if
the folder exists), so racing publishers get distinct versions; pointer updates
are serialised with a lock file so `latest` never moves backwards. delete() holds
the same lock, and promote() checks its version under it, so `best` never ends up
naming a deleted version. delete() first puts a `.deleting` marker in the version's
folder, which unlists it; a delete cut short leaves the marker for the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cartridge.modelstore import layout
from cartridge.modelstore.base import (
    CorruptModelError,
    ModelInfo,
    ModelStore,
    ModelStoreError,
    Pointer,
)

_LOCK_NAME = ".pointer.lock"


class FilesystemModelStore(ModelStore):
    def __init__(self, root: Path, env_id: str) -> None:
        self.root = Path(root)
        self.env_id = env_id
        self.game_dir = self.root / env_id
        self.game_dir.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"FilesystemModelStore({str(self.game_dir)!r})"

    # -- writing -----------------------------------------------------------------

    def publish(
        self, onnx: bytes, checkpoint: bytes, *, step: int, network: dict[str, Any],
        run: dict[str, Any] | None = None, int8: bytes | None = None,
    ) -> ModelInfo:
        earlier = self._previous_attempt(onnx, step)
        if earlier is not None:
            self._advance_latest(earlier, onnx)
            return earlier
        version, version_dir = self._claim_version()
        info = layout.new_info(self.env_id, version, onnx, checkpoint, step=step,
                               network=network, run=run, int8=int8)
        _atomic_write(version_dir / layout.ONNX_NAME, onnx)
        if int8 is not None:
            _atomic_write(version_dir / layout.INT8_NAME, int8)
        _atomic_write(version_dir / layout.CHECKPOINT_NAME, checkpoint)
        _atomic_write(version_dir / layout.META_NAME, layout.encode_info(info))
        self._advance_latest(info, onnx)
        return info

    def _advance_latest(self, info: ModelInfo, onnx: bytes) -> None:
        with self._pointer_lock():
            current = self.pointer("latest")
            # A slower racing publisher must not move `latest` back to its older version.
            if current is None or current < info.version:
                self._replace_fixed_onnx(self._version_dir(info.version) / layout.ONNX_NAME,
                                         onnx)
                _atomic_write(self.game_dir / "latest", layout.encode_pointer(info))

    def promote(self, version: int) -> None:
        with self._pointer_lock():
            info = self.info(version)
            if (self._version_dir(version) / layout.DELETING_NAME).exists():
                raise ModelStoreError(f"{self._version_dir(version)}: not promoted, its "
                                      "delete has started")
            _atomic_write(self.game_dir / "best", layout.encode_pointer(info))

    def delete(self, version: int) -> None:
        version_dir = self._version_dir(version)
        with self._pointer_lock():
            for name in layout.POINTERS:
                if self.pointer(name) == version:
                    raise ModelStoreError(f"{version_dir}: not deleted, `{name}` points at it")
            if not version_dir.exists():
                return
            marker = version_dir / layout.DELETING_NAME
            if not marker.exists():
                _atomic_write(marker, b"")
            # The marker goes last: until then the folder is unlisted and named by
            # unfinished_deletes(). Whatever else is there goes too (the temporary file
            # of a marker write cut short).
            for path in [p for p in version_dir.iterdir() if p != marker] + [marker]:
                path.unlink()
            _fsync_dir(version_dir)
            version_dir.rmdir()
            _fsync_dir(self.game_dir)

    def unfinished_deletes(self) -> list[int]:
        return sorted(version for version in self._claimed_versions()
                      if (self._version_dir(version) / layout.DELETING_NAME).exists())

    def _claim_version(self) -> tuple[int, Path]:
        version = max(self._claimed_versions(), default=0) + 1
        while True:
            version_dir = self.game_dir / layout.version_name(version)
            try:
                version_dir.mkdir()
            except FileExistsError:
                version += 1
                continue
            _fsync_dir(self.game_dir)
            return version, version_dir

    def _replace_fixed_onnx(self, source: Path, onnx: bytes) -> None:
        """<env_id>/model.onnx follows `latest`: a hard link renamed into place (a copy
        where links are not supported), before the pointer moves."""
        target = self.game_dir / layout.ONNX_NAME
        temporary = _temporary_name(target)
        try:
            os.link(source, temporary)
        except OSError:
            _atomic_write(target, onnx)
            return
        os.replace(temporary, target)
        _fsync_dir(self.game_dir)

    @contextlib.contextmanager
    def _pointer_lock(self) -> Iterator[None]:
        with open(self.game_dir / _LOCK_NAME, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- reading -----------------------------------------------------------------

    def pointer(self, name: Pointer = "latest") -> int | None:
        if name not in layout.POINTERS:
            raise ValueError(f"unknown pointer {name!r}; pointers: {', '.join(layout.POINTERS)}")
        path = self.game_dir / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return layout.decode_pointer(data, where=str(path))

    def info(self, version: int) -> ModelInfo:
        path = self._version_dir(version) / layout.META_NAME
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CorruptModelError(f"{path}: version {version} is missing") from None
        return layout.decode_info(data, where=str(path), version=version, env_id=self.env_id)

    def load_onnx(self, version: int) -> bytes:
        info = self.info(version)
        return self._read_verified(version, layout.ONNX_NAME, info.sha256)

    def load_int8(self, version: int) -> bytes:
        info = self.info(version)
        where = str(self._version_dir(version) / layout.INT8_NAME)
        return self._read_verified(version, layout.INT8_NAME,
                                   layout.int8_sha256(info, where=where))

    def load_checkpoint(self, version: int) -> bytes:
        info = self.info(version)
        return self._read_verified(version, layout.CHECKPOINT_NAME, info.checkpoint_sha256)

    def versions(self) -> list[int]:
        # A version counts once its metadata exists (claimed-but-unfinished folders do
        # not) and until its delete starts. The marker is looked at first: a delete
        # that runs whole between the two looks must not leave the version listed.
        return sorted(
            version for version in self._claimed_versions()
            if not (self._version_dir(version) / layout.DELETING_NAME).exists()
            and (self._version_dir(version) / layout.META_NAME).exists()
        )

    def _read_verified(self, version: int, name: str, sha256: str) -> bytes:
        path = self._version_dir(version) / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CorruptModelError(f"{path}: missing") from None
        return layout.verify(data, sha256, where=str(path))

    def _version_dir(self, version: int) -> Path:
        return self.game_dir / layout.version_name(version)

    def _claimed_versions(self) -> list[int]:
        found = (layout.parse_version_name(entry.name) for entry in os.scandir(self.game_dir))
        return [version for version in found if version is not None]


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = _temporary_name(path)
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    """Make a rename durable: fsync the folder that holds the entry."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
