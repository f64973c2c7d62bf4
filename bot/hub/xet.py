"""The upload half of a Xet CAS, so huggingface_hub with `hf_xet` installed uploads here unchanged.

With hf_xet installed (the default), the client uploads every LFS file, and every bucket file, through
Xet: it fetches a token from `.../xet-write-token/...`, posts xorbs and then a shard to the CAS URL that
token names. This module keeps the xorbs, and when a shard arrives it reassembles each file it describes
into the content store (verifying the SHA-256 the client computed) and remembers Xet hash -> SHA-256.
Downloads are never Xet: the local Hub serves plain bytes and no `X-Xet-Hash` header, so the client
falls back to HTTP. Global deduplication is not offered (chunk queries answer 404), nor xorb upload
grants (404, so the client posts xorbs directly).

    ROOT/xet/xorbs/<hash>   uploaded xorbs as received
    ROOT/xet/files.json     Xet file hash -> {sha256, size}
"""

from __future__ import annotations

import hashlib
import re

from bot.hub.store import HubStore, read_json, write_json
from bot.hub.xetformat import ShardFile, XetFormatError, parse_shard, xorb_chunks

HASH = re.compile(r"^[0-9a-f]{64}$")


class XetStore:
    """Xorbs, and the files reassembled from them."""

    def __init__(self, store: HubStore):
        self.store = store
        self.folder = store.root / "xet"
        (self.folder / "xorbs").mkdir(parents=True, exist_ok=True)
        self.index_path = self.folder / "files.json"

    def put_xorb(self, xorb_hash: str, body: bytes) -> bool:
        """Keep a xorb; False when it was already there (not an error, says the protocol)."""
        if not HASH.match(xorb_hash):
            raise XetFormatError(f"{xorb_hash!r} is not a Xet hash")
        path = self.folder / "xorbs" / xorb_hash
        if path.exists():
            return False
        with self.store.temp_file() as (tmp, out):
            out.write(body)
            out.close()
            tmp.replace(path)
        return True

    def ingest_shard(self, body: bytes) -> list[dict]:
        """Reassemble every file of an uploaded shard; returns [{hash, sha256, size}]."""
        done = []
        for item in parse_shard(body):
            sha, size = self._reassemble(item)
            done.append({"hash": item.hash, "sha256": sha, "size": size})
        with self.store.lock:
            index = read_json(self.index_path, {})
            index.update({d["hash"]: {"sha256": d["sha256"], "size": d["size"]} for d in done})
            write_json(self.index_path, index)
        return done

    def lookup(self, file_hash: str) -> dict | None:
        """{sha256, size} of a file uploaded through Xet, by its Xet hash."""
        return read_json(self.index_path, {}).get(file_hash)

    def _reassemble(self, item: ShardFile) -> tuple[str, int]:
        known = self.lookup(item.hash)
        if known and self.store.has_object(known["sha256"], known["size"]):
            return known["sha256"], known["size"]
        needed: dict[str, int] = {}
        for term in item.terms:
            needed[term.xorb] = max(needed.get(term.xorb, 0), term.end)
        chunks = {xorb: xorb_chunks(self._xorb(xorb), count) for xorb, count in needed.items()}
        digest, size = hashlib.sha256(), 0
        with self.store.temp_file() as (tmp, out):
            for term in item.terms:
                piece = b"".join(chunks[term.xorb][term.start:term.end])
                if len(piece) != term.size:
                    raise XetFormatError(f"a term of file {item.hash} has {len(piece)} bytes, not {term.size}")
                digest.update(piece)
                out.write(piece)
                size += len(piece)
            out.close()
            sha = digest.hexdigest()
            if item.sha256 is not None and item.sha256 != sha:
                raise XetFormatError(f"file {item.hash} reassembles to SHA-256 {sha}, the shard says {item.sha256}")
            if not self.store.has_object(sha):
                self.store.place(tmp, sha)
        return sha, size

    def _xorb(self, xorb_hash: str) -> bytes:
        path = self.folder / "xorbs" / xorb_hash
        if not path.is_file():
            raise XetFormatError(f"the shard refers to xorb {xorb_hash}, which was never uploaded here")
        return path.read_bytes()
