"""The bounded on-disk spool: rows that could not be written while PostgreSQL was down.

One JSON-lines file per failed write (rows already in their stored form, so with
``inputs=hash`` no raw input reaches the disk; a batch chunk recorded per chunk is one
``.chunk`` file holding its table row, the document in base64), written to a temporary
name and renamed into place, so a reader never sees half a file. Files are replayed oldest first and
deleted once inserted; several processes may share a directory (a replayed file is
inserted idempotently, a file deleted twice is fine). The bound is the directory's total
size: a write that would exceed it is refused, and the caller counts the loss.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from services.core.decisions.chunk import ChunkDocument
from services.core.decisions.record import Row, row_from_json, row_to_json

SUFFIX = ".jsonl"  # rows, one JSON array per line
CHUNK_SUFFIX = ".chunk"  # one recorded batch chunk (``ChunkDocument.to_json``)


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory, self.max_bytes = directory, max_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self._seq = 0

    def files(self) -> list[Path]:
        """Spooled files, oldest first."""
        with contextlib.suppress(FileNotFoundError):
            return sorted(
                p for p in self.directory.iterdir() if p.name.endswith((SUFFIX, CHUNK_SUFFIX))
            )
        return []

    def size(self) -> int:
        total = 0
        for path in self.files():
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def append(self, rows: list[Row]) -> bool:
        """Write ``rows`` as one file; False (nothing written) if it would not fit."""
        data = "".join(json.dumps(row_to_json(r), separators=(",", ":")) + "\n" for r in rows)
        return self._write(data.encode(), SUFFIX)

    def append_chunk(self, doc: ChunkDocument) -> bool:
        """Write a recorded chunk as one file; False (nothing written) if it would not fit."""
        return self._write((doc.to_json() + "\n").encode(), CHUNK_SUFFIX)

    def _write(self, payload: bytes, suffix: str) -> bool:
        if self.size() + len(payload) > self.max_bytes:
            return False
        self._seq += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}"
        tmp = self.directory / f".{name}.tmp"
        try:
            with tmp.open("wb") as out:
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
            tmp.rename(self.directory / f"{name}{suffix}")
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            return False
        return True

    @staticmethod
    def read(path: Path) -> list[Row]:
        with path.open() as lines:
            return [row_from_json(json.loads(line)) for line in lines if line.strip()]

    @staticmethod
    def is_chunk(path: Path) -> bool:
        return path.name.endswith(CHUNK_SUFFIX)

    @staticmethod
    def read_chunk(path: Path) -> ChunkDocument:
        return ChunkDocument.from_json(path.read_text())

    @staticmethod
    def quarantine(path: Path) -> None:
        """Set an unreadable file aside (``*.bad``: kept for a human, not replayed)."""
        with contextlib.suppress(OSError):
            path.rename(path.with_suffix(".bad"))

    @staticmethod
    def remove(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
