"""`hf:NAME_OR_DIR[:CONFIG][@SPLIT]` wherever a data path goes, through the `datasets` library.

A hub dataset name (`hf:glue:sst2@train`, `hf:squad@validation`) or a local dataset folder (parquet,
JSON lines or CSV files, or a `save_to_disk` folder) is written once, streaming, into the cache in
the plain format the readers already take: pretraining text here (`text_file`: one document per row, column
`data.text_column`, blank lines between), each task kind's rows by its own converter (maskbench/tasks/<kind>.py,
`hub_file`) through the helpers below (`need_columns`, `cache_target`, `write_cached`, `label_name`).

The cached file is named by a hash of the reference, the fields read and the dataset's own fingerprint,
so an edited local folder is written again. Without network a hub dataset that is not in the datasets
cache is one line saying so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from maskbench.errors import MaskbenchError

PREFIX = "hf:"


def is_hub(path) -> bool:
    return str(path).startswith(PREFIX)


@dataclass(frozen=True)
class HubRef:
    spec: str
    name: str              # hub name or local folder
    config: str | None
    split: str | None

    @property
    def is_local(self) -> bool:
        return Path(self.name).expanduser().is_dir()


def parse(spec: str) -> HubRef:
    body = str(spec)[len(PREFIX):]
    if Path(body).expanduser().is_dir():  # a folder whose name holds '@' or ':' (v1@2024) is the folder
        return HubRef(str(spec), body, None, None)
    body, at, split = body.rpartition("@") if "@" in body else (body, "", "")
    if at and not split:
        raise MaskbenchError(f"{spec}: the split after '@' is empty: write {spec}train (or the split you want), "
                             f"or drop the '@'")
    name, config = body, None
    if not Path(body).expanduser().is_dir() and ":" in body:
        name, _, config = body.partition(":")
    if not name:
        raise MaskbenchError(f"{spec}: write hf:NAME_OR_FOLDER[:CONFIG][@SPLIT], e.g. hf:glue:sst2@train")
    return HubRef(str(spec), name, config or None, split or None)


def _datasets():
    from maskbench.optional import require

    datasets = require("datasets", "hf: data", "hf")
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:  # its retry warnings while offline are not ours to show: the failure becomes one line
        import huggingface_hub

        huggingface_hub.utils.logging.set_verbosity_error()
    except (ImportError, AttributeError):
        pass
    return datasets


def _load(ref: HubRef, default_split: str | None, streaming: bool):
    """The split as a datasets Dataset (or IterableDataset when streaming a hub dataset)."""
    datasets = _datasets()
    path = Path(ref.name).expanduser()
    try:
        if ref.is_local and ref.split and (path / "dataset_dict.json").exists() and (path / ref.split).is_dir():
            loaded = datasets.load_from_disk(str(path / ref.split))  # this split alone: another may be unreadable
        elif ref.is_local and ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
            loaded = datasets.load_from_disk(str(path))
        else:
            loaded = datasets.load_dataset(str(path) if ref.is_local else ref.name, ref.config,
                                           streaming=streaming and not ref.is_local)
    except IndexError:  # datasets' own error for a saved split with no data files
        raise MaskbenchError(f"{ref.spec}: the split has no rows: choose a split with data") from None
    except (ConnectionError, OSError) as exc:
        if ref.is_local:
            raise MaskbenchError(f"{ref.spec}: the folder could not be read as a dataset "
                                 f"({str(exc).splitlines()[0][:120]})") from None
        raise MaskbenchError(f"{ref.spec}: the dataset is not available offline (not in the datasets cache, and "
                             f"no network): download it once with network, or give a local folder hf:DIR") from None
    except Exception as exc:  # datasets raises many types (DatasetNotFoundError, ValueError, ...)
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        if not ref.is_local and any(w in first.lower() for w in ("offline", "connect", "couldn't reach", "not found")):
            raise MaskbenchError(f"{ref.spec}: the dataset is not available offline ({first}): download it once "
                                 f"with network, or give a local folder hf:DIR") from None
        raise MaskbenchError(f"{ref.spec}: {first}") from None
    if not isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        return _with_rows(loaded, ref, datasets)
    splits = list(loaded.keys())
    split = ref.split or (splits[0] if len(splits) == 1 else default_split)
    if split is None:
        raise MaskbenchError(f"{ref.spec}: name a split: it has {', '.join(splits)} (e.g. {ref.spec}@{splits[0]})")
    if split not in loaded:
        raise MaskbenchError(f"{ref.spec}: unknown split '{split}': it has {', '.join(splits)}")
    return _with_rows(loaded[split], ref, datasets)


def _with_rows(ds, ref: HubRef, datasets):
    if isinstance(ds, datasets.Dataset) and len(ds) == 0:
        raise MaskbenchError(f"{ref.spec}: the split has no rows: choose a split with data")
    return ds


def _columns(ds) -> list[str]:
    return list(ds.column_names or (ds.features or {}).keys())


def need_columns(ds, ref: HubRef, columns: list[str], key: str) -> None:
    have = _columns(ds)
    for c in columns:
        if have and c not in have:
            raise MaskbenchError(f"{ref.spec} has no column '{c}' (it has {', '.join(have)}): set {key}")


def cache_target(cache_root: Path, ref: HubRef, ds, what: dict, suffix: str) -> Path:
    fingerprint = getattr(ds, "_fingerprint", None) or ""
    if ref.is_local:  # load_from_disk keeps a fingerprint; plain files: their sizes and times
        files = sorted(p for p in Path(ref.name).expanduser().rglob("*") if p.is_file())
        fingerprint += "".join(f"{p}|{p.stat().st_size}|{p.stat().st_mtime_ns};" for p in files)
    key = hashlib.sha256(json.dumps([ref.name, ref.config, ref.split, what, fingerprint]).encode()).hexdigest()[:16]
    return cache_root / "hub" / f"{key}{suffix}"


def write_cached(target: Path, lines) -> Path:
    """Stream lines into the cache file, atomically (a half-written file is never picked up)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    n = 0
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line)
                n += 1
    except BaseException:  # a refused row: no partial file is left behind
        tmp.unlink(missing_ok=True)
        raise
    if n == 0:
        tmp.unlink()
        raise MaskbenchError(f"{target.name}: the dataset split is empty")
    tmp.replace(target)
    return target


def text_file(spec: str, cache_root: Path, text_column: str = "text") -> Path:
    """Pretraining text from a hub dataset or folder, one document per row (streamed)."""
    ref = parse(spec)
    ds = _load(ref, "train", streaming=True)
    need_columns(ds, ref, [text_column], "data.text_column")
    target = cache_target(cache_root, ref, ds, {"text": text_column}, ".txt")
    if target.exists():
        return target

    def docs():
        for row in ds:
            text = str(row[text_column] or "").strip()
            if text:
                yield "\n".join(line for line in text.splitlines() if line.strip()) + "\n\n"
    return write_cached(target, docs())


def label_name(feature, value):
    names = getattr(feature, "names", None)
    return names[value] if names and isinstance(value, int) and 0 <= value < len(names) else str(value)


def task_dataset(spec: str):
    """(reference, dataset) of a task file given as hf:..., loaded once."""
    ref = parse(spec)
    return ref, _load(ref, None, streaming=False)
