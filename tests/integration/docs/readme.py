"""Read README.md the way a user does: fenced code blocks, shell commands, sections and
their markdown tables (with ``{a,b}`` brace expansion in table cells)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
README = REPO / "README.md"
SHELL_LANGUAGES = {"bash", "sh"}
OTHER_LANGUAGES = {"json", "yaml", "mermaid", "text"}
FENCE = re.compile(r"^```(\S*)\s*$")
TICKED = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Block:
    language: str
    line: int  # 1-based line of the opening fence
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Command:
    text: str  # continuation lines joined, trailing comment removed
    line: int  # 1-based line in README.md where it starts

    @property
    def key(self) -> str:
        """Whitespace-normalised text: what the allow-list names."""
        return " ".join(self.text.split())

    @property
    def background(self) -> bool:
        return self.text.rstrip().endswith("&")

    @property
    def foreground(self) -> str:
        """The command without a trailing ``&``."""
        return self.text.rstrip().removesuffix("&").rstrip()


def text() -> str:
    return README.read_text()


def blocks(source: str | None = None) -> list[Block]:
    found: list[Block] = []
    language, start, body = None, 0, list[str]()
    for number, line in enumerate((source or text()).splitlines(), start=1):
        match = FENCE.match(line)
        if match and language is None:
            language, start, body = match.group(1), number, []
        elif match and not match.group(1):
            found.append(Block(language or "", start, tuple(body)))
            language = None
        elif language is not None:
            body.append(line)
    assert language is None, f"README.md: code fence opened at line {start} is never closed"
    return found


def strip_comment(line: str) -> str:
    """``line`` without a ``# comment`` that starts outside quotes after whitespace."""
    quote, escaped = "", False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def commands(source: str | None = None) -> list[Command]:
    """Every shell command of every ``bash``/``sh`` block, in README order."""
    found: list[Command] = []
    for block in blocks(source):
        if block.language not in SHELL_LANGUAGES:
            continue
        pending, start = "", 0
        for offset, raw in enumerate(block.lines, start=1):
            line = strip_comment(raw)
            if not pending:
                start = block.line + offset
            if line.endswith("\\"):
                pending += line[:-1].rstrip() + " "
                continue
            whole = (pending + line.strip()).strip()
            pending = ""
            if whole:
                found.append(Command(whole, start))
        assert not pending, f"README.md line {start}: a continued command never ends"
    return found


def section(title: str, source: str | None = None) -> str:
    """The text under ``## title`` up to the next ``## `` heading."""
    source = source or text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", source, re.M | re.S)
    assert match, f"README.md has no section '## {title}'"
    return match.group(1)


def table_rows(part: str) -> list[list[str]]:
    """Cells of every markdown table row (header and separator rows left out)."""
    rows: list[list[str]] = []
    lines = [line.strip() for line in part.splitlines() if line.strip().startswith("|")]
    for i, line in enumerate(lines):
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))]
        separator = all(re.fullmatch(r":?-+:?", c) for c in cells if c)
        header = i + 1 < len(lines) and re.fullmatch(r"\|[\s|:-]+\|", lines[i + 1])
        if not separator and not header:
            rows.append(cells)
    return rows


def expand(token: str) -> list[str]:
    """Brace expansion as the shell does it: ``{A,B}_X`` -> ``A_X``, ``B_X``."""
    parts = re.split(r"(\{[^{}]*,[^{}]*\})", token)
    choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
    return ["".join(combo) for combo in product(*choices)]


def ticked(cell: str) -> list[str]:
    """Backticked tokens of a cell, brace-expanded."""
    return [name for token in TICKED.findall(cell) for name in expand(token)]
