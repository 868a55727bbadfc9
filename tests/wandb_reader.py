"""Read a W&B offline run file (.wandb): a LevelDB-style log of protobuf records (for the tests)."""

import json
import struct

BLOCK, HEADER, FILE_HEADER = 32768, 7, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path):
    from wandb.proto import wandb_internal_pb2 as pb

    data = open(path, "rb").read()
    assert data[:4] == b":W&B", "not a W&B run file"
    pos, parts = FILE_HEADER, []
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        chunk = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind == 0 and length == 0:
            break
        parts.append(chunk)
        if kind in (FULL, LAST):
            rec = pb.Record()
            rec.ParseFromString(b"".join(parts))
            parts = []
            yield rec


def history_and_config(path):
    hist, cfg = [], {}
    for r in records(path):
        kind = r.WhichOneof("record_type")
        if kind == "history":
            hist.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item})
        elif kind == "config":
            cfg.update({i.key: json.loads(i.value_json) for i in r.config.update})
        elif kind == "run":
            cfg.update({i.key: json.loads(i.value_json) for i in r.run.config.update})
    return hist, cfg
