"""The input-format registry: every format a job's input may come in, one module each.

A format (``base.InputFormat``) names its media types and file suffixes, how it is
recognised, checked at submit, planned, read by a split task and, if results can be
downloaded in it, written. Everything else asks this registry instead of testing format
names: the API (Content-Type, file names, ``format=``), the service (check and plan), the
split task, recovery, the in-process fallback and the client.

To add a format: write ``formats/<name>.py`` with a ``FORMAT`` and list it in ``FORMATS``.
"""

from __future__ import annotations

from pathlib import Path

from services.batch.domain import BadInput
from services.batch.formats import csv, jsonl, parquet
from services.batch.formats.base import InputFormat, ResultFiles

# Magic bytes are tried in this order, then guesses; text nothing else claims is CSV.
FORMATS: tuple[InputFormat, ...] = (parquet.FORMAT, csv.FORMAT, jsonl.FORMAT)
DEFAULT = csv.FORMAT
# Content-Types that say nothing about the format: the file's bytes decide
GENERIC_MEDIA_TYPES = frozenset({"application/octet-stream"})
HEAD_BYTES = 64  # bytes read to recognise a file

__all__ = ["FORMATS", "InputFormat", "ResultFiles", "by_name", "detect", "names"]


def names() -> list[str]:
    return [fmt.name for fmt in FORMATS]


def name_pattern() -> str:
    """A regular expression matching exactly the format names (for API validation)."""
    return f"^({'|'.join(names())})$"


def by_name(name: str) -> InputFormat:
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise BadInput(f"unknown input format {name!r} (known: {', '.join(names())})")


def for_media_type(media_type: str) -> InputFormat | None:
    """The format a Content-Type (without parameters) declares; None if it declares none."""
    return next((fmt for fmt in FORMATS if media_type.lower() in fmt.media_types), None)


def for_file_name(name: str) -> InputFormat | None:
    """The format a file name's suffix declares; None for an unknown suffix."""
    lowered = name.lower()
    return next((fmt for fmt in FORMATS if lowered.endswith(fmt.suffixes)), None)


def accepts_media_type(media_type: str) -> bool:
    return media_type in GENERIC_MEDIA_TYPES or for_media_type(media_type) is not None


def media_types() -> list[str]:
    """Every Content-Type a raw upload may have."""
    return [t for fmt in FORMATS for t in fmt.media_types] + sorted(GENERIC_MEDIA_TYPES)


def detect(path: Path, declared: str | None = None) -> InputFormat:
    """The format of the file at ``path``: magic bytes prove a format whatever was
    declared; else the declared one holds; else a guess from the first bytes; else CSV."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if not head:
        raise BadInput("empty file: no header and no data rows")
    for fmt in FORMATS:
        if fmt.magic and head.startswith(fmt.magic):
            return fmt
    if declared:
        fmt = by_name(declared)
        if fmt.magic:
            raise BadInput(f"not a {fmt.title} file (no {fmt.magic.decode()} magic bytes)")
        return fmt
    return next((fmt for fmt in FORMATS if fmt.looks_like and fmt.looks_like(head)), DEFAULT)
