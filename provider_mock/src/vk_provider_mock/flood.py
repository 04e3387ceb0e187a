"""Synthetic log floods (the ``log-flood`` annotation): a log of any size, generated line by line when it is read.

A container of a pod annotated ``mock.virtual-kubelet.io/log-flood: "<bytes>[,<line-length>]"`` writes, the moment it
starts, exactly ``bytes`` bytes of log (newlines included) in lines of ``line-length`` bytes (default
:data:`DEFAULT_LINE_LENGTH`, newline included; the last line may be shorter), then exits with the ``exit-code``
annotation's code (default 0). Its command is not run. Line ``i`` (from 0) is ``i`` in decimal, a space, then the
alphabet repeated to the length; every line has the container's start time and goes to stdout.

Design decision: **the flood is synthetic and never stored.** The mock keeps only its size and line length;
:class:`Flood` computes any line from its index, so reading (history, tail, byte limits, follow) costs memory per
batch sent, not per byte of log, and a follower gets the lines as fast as it reads them (gRPC flow control is the
only pace). Sizes take ``k``/``M``/``G`` (powers of 1000) or ``Ki``/``Mi``/``Gi`` (powers of 1024) suffixes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_LINE_LENGTH = 100
MAX_LINE_LENGTH = 1024 * 1024
MAX_BYTES = 1 << 50
_FILL = b"abcdefghijklmnopqrstuvwxyz"
_SIZE = re.compile(r"^([0-9]+)\s*(k|M|G|T|Ki|Mi|Gi|Ti)?B?$")
_UNITS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 1 << 10,
    "Mi": 1 << 20,
    "Gi": 1 << 30,
    "Ti": 1 << 40,
}


def parse_size(text: str) -> int:
    """Bytes from ``1000``, ``2M``, ``1Gi`` (ValueError otherwise)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(text)
    return int(match.group(1)) * _UNITS[match.group(2)]


@functools.lru_cache(maxsize=8)
def _filler(length: int) -> bytes:
    return (_FILL * (length // len(_FILL) + 1))[:length]


@dataclass(frozen=True)
class Flood:
    """``total`` bytes of log in lines of ``line_length`` bytes, newline included."""

    total: int
    line_length: int = DEFAULT_LINE_LENGTH

    def __post_init__(self) -> None:
        if not 0 <= self.total <= MAX_BYTES:
            raise ValueError(f"a flood is 0 to {MAX_BYTES} bytes, not {self.total}")
        if not 1 <= self.line_length <= MAX_LINE_LENGTH:
            raise ValueError(f"a flood's lines are 1 to {MAX_LINE_LENGTH} bytes, not {self.line_length}")

    @classmethod
    def parse(cls, text: str) -> Flood:
        """``<bytes>[,<line-length>]``."""
        size, sep, length = text.partition(",")
        return cls(parse_size(size), parse_size(length) if sep else DEFAULT_LINE_LENGTH)

    @property
    def lines(self) -> int:
        return -(-self.total // self.line_length)

    def content(self, index: int) -> bytes:
        """Line ``index`` without its newline."""
        size = self.line_length if index < self.lines - 1 else self.total - (self.lines - 1) * self.line_length
        head = b"%d " % index
        width = size - 1
        if width <= len(head):
            return head[:width]
        return head + _filler(self.line_length)[: width - len(head)]

    def chunks(self, start: int = 0, *, max_bytes: int) -> Iterator[list[bytes]]:
        """The contents of lines ``start``.. in consecutive groups of at most ``max_bytes`` content bytes each
        (at least one line per group); only one group is in memory at a time."""
        per_group = max(1, max_bytes // max(self.line_length - 1, 1))
        for first in range(start, self.lines, per_group):
            yield [self.content(index) for index in range(first, min(first + per_group, self.lines))]


__all__ = ["DEFAULT_LINE_LENGTH", "Flood", "parse_size"]
