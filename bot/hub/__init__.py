"""A local Hugging Face Hub: the part of the Hub's HTTP API that huggingface_hub uses for this product,
so publishing and HF Jobs run offline through the real client (`HF_ENDPOINT=<url>`, HF_HUB_OFFLINE unset).

Rooms, one concern each:
    store.py        the root folder: tokens, content store by SHA-256, signatures, JSON records
    repos.py        repositories with commits and revisions; which files are LFS
    api_repos.py    whoami, create/delete/settings, info, tree, paths-info, refs, commits, preupload,
                    commit (NDJSON), validate-yaml, resolve
    api_transfer.py the LFS batch API (basic transfer) and the upload half of a Xet CAS
    xet.py, xetformat.py   reassembling Xet uploads (shards, xorbs, LZ4) into plain files
    buckets.py      buckets, as far as `run_uv_job` with a local script needs them
    jobs.py, api_jobs.py, hardware.py, uvshim.py   HF Jobs run as local subprocesses
    server.py, cli.py   serving it (`ml-intern-bot hub`)
"""

from bot.hub.server import HubServer, create_app
from bot.hub.store import HubStore

__all__ = ["HubServer", "HubStore", "create_app"]
