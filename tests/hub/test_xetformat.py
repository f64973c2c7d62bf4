"""Reading Xet uploads (bot/hub/xetformat.py, xet.py) on bytes built by hand from the published formats.
The real hf_xet client is exercised end to end in test_repos.py and test_jobs.py."""

from __future__ import annotations

import hashlib
import struct

import pytest

from bot.hub.store import HubStore
from bot.hub.xet import XetStore
from bot.hub.xetformat import (
    FLAG_METADATA_EXT,
    SHARD_TAG,
    XetFormatError,
    _ungroup4,
    hash_hex,
    lz4_frame,
    parse_shard,
    xorb_chunks,
)


def frame(*blocks: bytes, stored: bool = False) -> bytes:
    """An LZ4 frame (version 01, independent blocks, no checksums) around the given blocks."""
    out = b"\x04\x22\x4d\x18" + bytes([0x60, 0x40, 0x82])
    for block in blocks:
        out += struct.pack("<I", len(block) | (0x80000000 if stored else 0)) + block
    return out + struct.pack("<I", 0)


def raw_hash(text: str) -> bytes:
    """The 32 bytes whose protocol string is `text` (the inverse of hash_hex)."""
    return b"".join(struct.pack("<Q", int(text[i:i + 16], 16)) for i in range(0, 64, 16))


def test_hash_strings_follow_the_spec_example():
    # api.md's example: each 8-byte group reversed (the page prints the third group one "10" short)
    want = "07060504030201000f0e0d0c0b0a0908" "1716151413121110" "1f1e1d1c1b1a1918"
    assert hash_hex(bytes(range(32))) == want and raw_hash(want) == bytes(range(32))


def test_lz4_blocks_with_overlapping_matches_long_literals_and_stored_blocks():
    overlapping = bytes([0x35]) + b"abc" + b"\x03\x00" + bytes([0x10]) + b"z"  # abc, then 9 from 3 back, then z
    long_literals = bytes([0xF0, 5]) + b"0123456789abcdefghij"  # 15 + 5 literal bytes

    assert lz4_frame(frame(overlapping)) == b"abcabcabcabcz"
    assert lz4_frame(frame(long_literals)) == b"0123456789abcdefghij"
    assert lz4_frame(frame(b"stored as is", stored=True)) == b"stored as is"
    with pytest.raises(XetFormatError):
        lz4_frame(b"not a frame")


def test_byte_grouping_is_undone():
    grouped = bytes([0, 4, 8, 1, 5, 9, 2, 6, 3, 7])  # 10 bytes: groups of 3, 3, 2 and 2
    assert _ungroup4(grouped) == bytes(range(10))


def chunk(data: bytes, scheme: int = 0, packed: bytes | None = None) -> bytes:
    body = data if packed is None else packed
    return bytes([0]) + len(body).to_bytes(3, "little") + bytes([scheme]) + len(data).to_bytes(3, "little") + body


def shard(file_hash: str, terms: list[tuple[str, int, int, int]], sha256: str | None) -> bytes:
    flags = FLAG_METADATA_EXT if sha256 else 0
    out = SHARD_TAG + struct.pack("<QQ", 2, 0)
    out += raw_hash(file_hash) + struct.pack("<II", flags, len(terms)) + bytes(8)
    for xorb, size, start, end in terms:
        out += raw_hash(xorb) + struct.pack("<IIII", 0, size, start, end)
    if sha256:
        out += raw_hash(sha256) + bytes(16)
    return out + b"\xff" * 32 + bytes(16)


def test_a_shard_reassembles_its_files_from_the_xorbs(tmp_path):
    xorb_a, xorb_b, file_hash = "a" * 64, "b" * 64, "c" * 64
    content = b"hello " + b"abcabcabcabcz" + b"hello "
    xet = XetStore(HubStore(tmp_path))
    xet.put_xorb(xorb_a, chunk(b"hello ") + chunk(b"abcabcabcabcz", 1, frame(bytes([0x35]) + b"abc\x03\x00\x10z")))
    assert xet.put_xorb(xorb_b, chunk(b"unused")) is True and xet.put_xorb(xorb_b, b"") is False

    sha = hashlib.sha256(content).hexdigest()
    done = xet.ingest_shard(shard(file_hash, [(xorb_a, 19, 0, 2), (xorb_a, 6, 0, 1)], sha))

    assert done == [{"hash": file_hash, "sha256": sha, "size": len(content)}]
    assert xet.store.object_path(sha).read_bytes() == content and xet.lookup(file_hash)["sha256"] == sha
    assert parse_shard(shard(file_hash, [(xorb_b, 6, 0, 1)], None))[0].sha256 is None
    with pytest.raises(XetFormatError, match="SHA-256"):
        xet.ingest_shard(shard("d" * 64, [(xorb_b, 6, 0, 1)], sha))
    with pytest.raises(XetFormatError, match="never uploaded"):
        xet.ingest_shard(shard("e" * 64, [("f" * 64, 6, 0, 1)], None))
    with pytest.raises(XetFormatError, match="holds 1 chunks"):
        xorb_chunks(chunk(b"one"), 2)
    with pytest.raises(XetFormatError, match="header tag"):
        parse_shard(b"\x00" * 200)
