"""Read an offline W&B run (``run-<id>.wandb``) without network or an account.

Used by tests and reports to check what a run logged (config, history, summary, group).
Written by hand because wandb >= 0.18 moved its transaction-log reader into the Go core and
no longer ships one in Python. The file is a 7-byte W&B header followed by LevelDB-log
records (32 KiB blocks; each chunk has crc32 (4 bytes), length (2), type (1)) that carry
protobuf ``Record`` messages from ``wandb.proto.wandb_internal_pb2``.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _raw_records(data: bytes) -> list[bytes]:
    """Return the payloads of all complete records in a W&B transaction log."""
    if len(data) < HEADER:  # created but not written yet
        return []
    if data[:4] != b":W&B":
        raise ValueError("not a W&B transaction log (missing ':W&B' header)")
    pos, records, pending = HEADER, [], b""
    while pos + HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < HEADER:  # block trailer padding
            pos += left_in_block
            continue
        length, kind = struct.unpack("<HB", data[pos + 4 : pos + 7])
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == FULL:
            records.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            records.append(pending + chunk)
            pending = b""
        else:  # zero padding at the end of a block
            pos += BLOCK - pos % BLOCK if pos % BLOCK else 0
    return records


@dataclass
class OfflineRun:
    """What an offline run logged: id, group, tags, config, history rows and summary."""

    run_id: str = ""
    group: str = ""
    tags: list[str] = field(default_factory=list)
    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def _key(item: Any) -> str:
    """History and summary items carry either ``key`` or a ``nested_key`` path."""
    return item.key or "/".join(item.nested_key)


def read_offline_run(path: str | Path, wait_s: float = 30.0) -> OfflineRun:
    """Parse ``run-<id>.wandb`` (or the offline run folder holding it) into an OfflineRun.

    ``wandb.finish()`` can return before W&B's service has flushed the file; this waits up
    to ``wait_s`` seconds for the run's final ``exit`` record before parsing what is there.
    """
    path = Path(path)
    deadline = time.monotonic() + wait_s
    while True:
        files = [path] if path.is_file() else sorted(path.glob("*.wandb"))
        records = _raw_records(files[0].read_bytes()) if files else []
        if _has_exit(records) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if not files:
        raise FileNotFoundError(f"no .wandb file in {path}")
    return _parse(records)


def _has_exit(records: list[bytes]) -> bool:
    from wandb.proto import wandb_internal_pb2 as pb

    for payload in reversed(records):
        rec = pb.Record()
        rec.ParseFromString(payload)
        if rec.WhichOneof("record_type") == "exit":
            return True
    return False


def _parse(records: list[bytes]) -> OfflineRun:
    from wandb.proto import wandb_internal_pb2 as pb

    run = OfflineRun()
    for payload in records:
        rec = pb.Record()
        rec.ParseFromString(payload)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            run.run_id, run.group, run.tags = rec.run.run_id, rec.run.run_group, list(rec.run.tags)
            run.name = rec.run.display_name
            for item in rec.run.config.update:
                run.config[item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in rec.config.update:
                run.config[item.key] = json.loads(item.value_json)
        elif kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in rec.history.item})
        elif kind == "summary":
            for item in rec.summary.update:
                run.summary[_key(item)] = json.loads(item.value_json)
    return run
