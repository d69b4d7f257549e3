"""Cutting a vendor byte stream into frames: the part the UART oximeter protocols share.

Vendor oximeters stream their protocol over a UART-like service (Nordic UART, Microchip Transparent UART), and
notifications neither start nor end on frame boundaries: a frame may be split over several notifications,
several frames may arrive in one, bytes may be lost. A :class:`FrameStream` keeps what it has not used yet,
skips to the next place a frame may start, waits for the rest of a frame, and refuses a frame that cannot be
one, looking again just after its start. Each protocol says only where a frame may start, how long it is and how
it is parsed (:mod:`devices.parsers.berrymed`, :mod:`devices.parsers.pc60fw`); the parsers themselves stay pure
functions over the bytes of one frame.
"""
from __future__ import annotations

from devices.parsers.common import ParsedMeasurement, ParseError


class NotAFrame(Exception):
    """The bytes at the head of the stream cannot be a frame: skip `skip` bytes and look again."""

    def __init__(self, skip: int) -> None:
        super().__init__(skip)
        self.skip = skip


class FrameStream:
    """Feed notification payloads; get back each whole frame that parses, with its exact bytes.

    Counters, for diagnostics: ``dropped_bytes`` (bytes thrown away: junk before a frame start and refused
    frames' bytes), ``bad_frames`` (frames refused: impossible length, failed check, parse error)."""

    resync_skip = 1  # bytes skipped past a refused frame's start (its sync marker)

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.dropped_bytes = 0
        self.bad_frames = 0

    @property
    def unreadable(self) -> int:
        """How much of the stream could not be read, in the protocol's own unit (bad frames by default)."""
        return self.bad_frames

    def feed(self, chunk: bytes) -> list[ParsedMeasurement]:
        return [parsed for _raw, parsed in self.feed_with_raw(chunk)]

    def feed_with_raw(self, chunk: bytes) -> list[tuple[bytes, ParsedMeasurement]]:
        """Each whole frame with the exact bytes it came from (kept with the reading for audit)."""
        self._buffer.extend(chunk)
        frames = []
        while (found := self._next()) is not None:
            if found:
                frames.append(found)
        return frames

    def _next(self) -> tuple[bytes, ParsedMeasurement] | tuple[()] | None:
        """The frame at the head of the buffer; () when one was refused (look again); None: wait for bytes."""
        buffer = self._buffer
        start = self._find_start(buffer)
        if start < 0:
            self._drop(len(buffer) - self._partial_start(buffer))
            return None
        self._drop(start)
        try:
            length = self._frame_length(buffer)
            if length is None or len(buffer) < length:
                return None
            frame = bytes(buffer[:length])
            parsed = self._parse(frame)
        except (NotAFrame, ParseError) as exc:
            self.bad_frames += 1
            self._drop(exc.skip if isinstance(exc, NotAFrame) else self.resync_skip)
            return ()
        del buffer[:length]
        return frame, parsed

    def _drop(self, count: int) -> None:
        self.dropped_bytes += count
        del self._buffer[:count]

    # -- what each protocol says ---------------------------------------------------------------------------------
    def _find_start(self, buffer: bytearray) -> int:
        """Index of the first place a frame may start, or -1."""
        raise NotImplementedError

    def _partial_start(self, buffer: bytearray) -> int:
        """With no frame start in the buffer: how many trailing bytes may be the beginning of one (kept)."""
        return 0

    def _frame_length(self, buffer: bytearray) -> int | None:
        """Length of the frame starting the buffer; None while too few bytes say; NotAFrame when it is not one."""
        raise NotImplementedError

    def _parse(self, frame: bytes) -> ParsedMeasurement:
        raise NotImplementedError
