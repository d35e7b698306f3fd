"""Reading a Server-Sent Events stream, line by line: shared by ``mcos events tail`` and the
runner, which both follow ``/api/v1/stream`` and resume with ``Last-Event-ID``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Frame:
    """One Server-Sent Events message; ``data`` is ``None`` for a frame without data lines."""

    id: int | None
    event: str | None
    data: str | None


@dataclass
class FrameReader:
    """Feed lines (without their newline); a completed frame comes back, by the WHATWG rules
    this stream uses (comments skipped, ``data`` lines joined)."""

    _seq: int | None = None
    _event: str | None = None
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> Frame | None:
        if line == "":
            frame = None
            if self._seq is not None or self._data:
                frame = Frame(self._seq, self._event, "\n".join(self._data) if self._data else None)
            self._seq, self._event, self._data = None, None, []
            return frame
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and value.isdigit():
            self._seq = int(value)
        return None


def parse_frames(lines: Iterable[str]) -> Iterator[Frame]:
    reader = FrameReader()
    for line in lines:
        frame = reader.feed(line)
        if frame is not None:
            yield frame
