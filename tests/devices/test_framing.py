"""The stream framing both vendor oximeter protocols share: however notifications cut the bytes, the same frames
come out, with their exact bytes; junk and refused frames are counted, never read."""
from __future__ import annotations

from hypothesis import given, strategies as st

from devices.parsers.berrymed import BerryMedStream
from devices.parsers.pc60fw import Pc60fwStream, build_frame

BCI_PACKETS = [bytes.fromhex(h) for h in ("C532430261", "C5324B0262", "C6304A0460", "C0300A0261")]
PC60_FRAMES = [build_frame(0x0F, bytes([0x01, 96, 80, 0, 12, 0, 0])),
               build_frame(0x0F, bytes([0x02, 10, 20, 30, 40, 50])),
               build_frame(0x0F, bytes([0x01, 97, 75, 0, 42, 0, 0]))]


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` split at the given offsets (taken modulo its length), as notifications would split it."""
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def fed(stream, chunks: list[bytes]) -> list[bytes]:
    return [raw for chunk in chunks for raw, _parsed in stream.feed_with_raw(chunk)]


@given(st.lists(st.sampled_from(range(len(BCI_PACKETS))), min_size=1, max_size=6), st.lists(st.integers(0, 60)))
def test_berrymed_packets_come_out_whole_however_the_stream_is_cut(order, cuts):
    packets = [BCI_PACKETS[i] for i in order]
    stream = BerryMedStream()
    assert fed(stream, cut(b"".join(packets), cuts)) == packets
    assert (stream.dropped_bytes, stream.bad_frames, stream.unreadable) == (0, 0, 0)


@given(st.lists(st.sampled_from(range(len(PC60_FRAMES))), min_size=1, max_size=6), st.lists(st.integers(0, 200)))
def test_pc60fw_frames_come_out_whole_however_the_stream_is_cut(order, cuts):
    frames = [PC60_FRAMES[i] for i in order]
    stream = Pc60fwStream()
    assert fed(stream, cut(b"".join(frames), cuts)) == frames
    assert (stream.dropped_bytes, stream.bad_frames, stream.unreadable) == (0, 0, 0)


def test_berrymed_junk_and_cut_packets_are_dropped_and_counted_in_bytes():
    stream = BerryMedStream()
    good = BCI_PACKETS[0]
    assert fed(stream, [b"\x01\x02\x03", good[:3], good]) == [good]   # 3 junk bytes, a packet cut after 3
    assert stream.dropped_bytes == 6 and stream.bad_frames == 1
    assert stream.unreadable == 6                                     # a BerryMed stream has no check: bytes


def test_pc60fw_bad_frames_are_dropped_and_counted_in_frames():
    stream = Pc60fwStream()
    good = PC60_FRAMES[0]
    bad_crc = good[:-1] + bytes([good[-1] ^ 0x01])
    impossible_length = b"\xAA\x55\x0F\xF0"
    assert fed(stream, [b"\x00\x00" + bad_crc + impossible_length + good]) == [good]
    assert stream.bad_frames == 2 and stream.unreadable == 2
    assert stream.dropped_bytes == 2 + len(bad_crc) + len(impossible_length)


def test_pc60fw_a_header_split_after_its_first_byte_is_kept():
    stream = Pc60fwStream()
    good = PC60_FRAMES[2]
    assert fed(stream, [b"\x13\x37" + good[:1], good[1:]]) == [good]
    assert stream.dropped_bytes == 2
