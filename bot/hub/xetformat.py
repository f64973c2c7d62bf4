"""Reading what a Xet client uploads: shards (which files, made of which chunk ranges) and xorbs (chunks).

Pure functions, no I/O, following the published Xet protocol (https://huggingface.co/docs/xet):
- hashes as strings: every 8 bytes read as a little-endian u64, printed as 16 hex digits (api.md);
- shard: a 48-byte header, then File Info blocks of 48-byte records up to an all-0xFF bookend (shard.md);
- xorb: chunks, each an 8-byte header (version, compressed size u24, scheme, raw size u24) and its data,
  scheme 0 = stored, 1 = LZ4, 2 = byte grouping of 4 then LZ4 (xorb.md). The LZ4 data is an LZ4 *frame*
  (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md), decoded here in Python: hf_xet keeps the
  chunk stored when compression does not help, so the decoder only sees compressible data.
The local Hub reassembles each uploaded file from these and keeps plain bytes, so it never serves Xet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SHARD_TAG = b"HFRepoMetaData\x00" + bytes([85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209,
                                           74, 169])
RECORD = 48
BOOKEND = b"\xff" * 32
FLAG_VERIFICATION = 0x80000000
FLAG_METADATA_EXT = 0x40000000
LZ4_MAGIC = b"\x04\x22\x4d\x18"


class XetFormatError(ValueError):
    """The bytes are not a shard or xorb as the Xet protocol defines them."""


@dataclass(frozen=True)
class Term:
    """A run of chunks [start, end) of one xorb, `size` bytes once decompressed."""

    xorb: str
    size: int
    start: int
    end: int


@dataclass(frozen=True)
class ShardFile:
    """One file of a shard: its Xet hash, its terms in order, and the SHA-256 when the client sent it."""

    hash: str
    terms: tuple[Term, ...]
    sha256: str | None

    @property
    def size(self) -> int:
        return sum(term.size for term in self.terms)


def hash_hex(raw: bytes) -> str:
    """A 32-byte Xet hash as the protocol writes it (api.md, "Converting Hashes to Strings")."""
    if len(raw) != 32:
        raise XetFormatError("a Xet hash is 32 bytes")
    return "".join(f"{word:016x}" for word in struct.unpack("<4Q", raw))


def parse_shard(data: bytes) -> list[ShardFile]:
    """The File Info section of an uploaded shard (the CAS Info section only matters for dedup)."""
    if len(data) < 2 * RECORD or data[:32] != SHARD_TAG:
        raise XetFormatError("not a Xet shard (bad header tag)")
    (version,) = struct.unpack_from("<Q", data, 32)
    if version != 2:
        raise XetFormatError(f"unsupported shard header version {version}")
    files: list[ShardFile] = []
    at = RECORD
    while True:
        record = _record(data, at)
        if record[:32] == BOOKEND:
            return files
        flags, count = struct.unpack_from("<II", record, 32)
        at += RECORD
        terms = []
        for _ in range(count):
            entry = _record(data, at)
            _, size, start, end = struct.unpack_from("<IIII", entry, 32)
            if end <= start:
                raise XetFormatError("a shard term has an empty chunk range")
            terms.append(Term(hash_hex(entry[:32]), size, start, end))
            at += RECORD
        if flags & FLAG_VERIFICATION:
            at += RECORD * count
        sha256 = None
        if flags & FLAG_METADATA_EXT:
            sha256 = hash_hex(_record(data, at)[:32])
            at += RECORD
        files.append(ShardFile(hash_hex(record[:32]), tuple(terms), sha256))


def _record(data: bytes, at: int) -> bytes:
    if at + RECORD > len(data):
        raise XetFormatError("the shard ends inside a record (no bookend)")
    return data[at:at + RECORD]


def xorb_chunks(xorb: bytes, count: int) -> list[bytes]:
    """The first `count` chunks of a serialized xorb, decompressed (a trailing footer is never read)."""
    chunks: list[bytes] = []
    at = 0
    while len(chunks) < count:
        if at + 8 > len(xorb):
            raise XetFormatError(f"the xorb holds {len(chunks)} chunks, a term needs {count}")
        version, c0, c1, c2, scheme, r0, r1, r2 = struct.unpack_from("<8B", xorb, at)
        packed, raw = c0 | c1 << 8 | c2 << 16, r0 | r1 << 8 | r2 << 16
        if version != 0:
            raise XetFormatError(f"unknown chunk header version {version}")
        body = xorb[at + 8:at + 8 + packed]
        at += 8 + packed
        chunk = _decompress(scheme, body)
        if len(chunk) != raw:
            raise XetFormatError("a chunk does not decompress to its declared size")
        chunks.append(chunk)
    return chunks


def _decompress(scheme: int, body: bytes) -> bytes:
    if scheme == 0:
        return body
    if scheme == 1:
        return lz4_frame(body)
    if scheme == 2:
        return _ungroup4(lz4_frame(body))
    raise XetFormatError(f"unknown chunk compression scheme {scheme}")


def _ungroup4(grouped: bytes) -> bytes:
    """Undo byte grouping: the data was split into 4 groups by position mod 4 (the first groups one longer)."""
    whole, rest = divmod(len(grouped), 4)
    out, at = bytearray(len(grouped)), 0
    for group in range(4):
        size = whole + (1 if group < rest else 0)
        out[group::4] = grouped[at:at + size]
        at += size
    return bytes(out)


def lz4_frame(frame: bytes) -> bytes:
    """Decode one LZ4 frame (no dictionary); checksums are skipped, the file's SHA-256 is checked later."""
    if frame[:4] != LZ4_MAGIC or len(frame) < 7:
        raise XetFormatError("not an LZ4 frame")
    flags = frame[4]
    at = 6 + (8 if flags & 0x08 else 0) + (4 if flags & 0x01 else 0) + 1
    out = bytearray()
    while True:
        if at + 4 > len(frame):
            raise XetFormatError("the LZ4 frame ends without an end mark")
        (size,) = struct.unpack_from("<I", frame, at)
        at += 4
        if size == 0:
            return bytes(out)
        stored, size = size & 0x80000000, size & 0x7FFFFFFF
        block = frame[at:at + size]
        at += size + (4 if flags & 0x10 else 0)
        if stored:
            out += block
        else:
            _lz4_block(block, out)


def _lz4_block(src: bytes, out: bytearray) -> None:
    """Append one decoded LZ4 block (https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md)."""
    at, end = 0, len(src)
    while at < end:
        token = src[at]
        at += 1
        literals, at = _length(src, at, token >> 4)
        out += src[at:at + literals]
        at += literals
        if at >= end:
            return  # the last sequence has literals only
        offset = src[at] | src[at + 1] << 8
        at += 2
        match, at = _length(src, at, token & 15)
        match += 4
        start = len(out) - offset
        if offset == 0 or start < 0:
            raise XetFormatError("an LZ4 match points before the start of the output")
        while match > 0:  # an overlapping match repeats what it has just written
            piece = out[start:start + min(offset, match)]
            out += piece
            start += len(piece)
            match -= len(piece)


def _length(src: bytes, at: int, value: int) -> tuple[int, int]:
    if value == 15:
        while True:
            byte = src[at]
            at += 1
            value += byte
            if byte != 255:
                break
    return value, at
