"""Where a model comes from: a maskbench run or checkpoint folder, or a transformers model folder.

Every place that takes a starting model (`pretrain init=`, `finetune init=`, `compare.init=`, `fill`,
`probe`, `export`) resolves it here, so all of them accept the same things and fail with the same
one-line messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from omegaconf import OmegaConf

from maskbench.errors import MaskbenchError, safe_reason


@dataclass
class ModelSource:
    # The model's shape: a typed ModelConfig (scratch from the command's config), or the model group read back
    # from a run's config.yaml, a task.json or a transformers config (a DictConfig, kept as written: a config
    # from before the layout switches has no `norm`, which models/shape.py reads as legacy).
    model_cfg: object
    arch: str
    tokenizer_path: Path
    source: str                # the folder, as shown and recorded
    objective: str             # the corruption it was pretrained with, or "transformers:<family>"
    origin: str                # "maskbench" | "transformers" | "scratch"
    loader: Callable | None    # model -> None: copies the weights in; None = random init (scratch)
    held: Path | None = None   # a maskbench checkpoint's private copy, which its files are read from

    @property
    def files(self) -> Path:
        """The folder to read the model's files from (the held copy of a maskbench checkpoint)."""
        return self.held if self.held is not None else Path(self.source)

    def model_dict(self) -> dict:
        """The model's shape as plain values (task.json, a worker process, init='s shape)."""
        from maskbench.config import as_dict

        return as_dict(self.model_cfg)

    @property
    def pretrained(self) -> bool:
        return self.loader is not None

    def load_into(self, model) -> None:
        if self.loader is not None:
            self.loader(model)

    @classmethod
    def scratch(cls, model_cfg, arch: str, tokenizer_path: Path) -> "ModelSource":
        """A model of this config and tokenizer with random weights."""
        return cls(model_cfg, arch, tokenizer_path, "scratch", "scratch", "scratch", None)

    def scratch_twin(self) -> "ModelSource":
        """The same model and tokenizer with random weights: the control of every comparison."""
        return ModelSource.scratch(self.model_cfg, self.arch, self.tokenizer_path)

    def own_model_corruption(self):
        """The corruption config of a maskbench run whose objective trains a model of its own (its checkpoint
        holds more than the backbone, e.g. ELECTRA's generator and replaced-token head), else None."""
        path = self.files / "config.yaml"
        if self.origin != "maskbench" or not path.exists():
            return None
        from maskbench.corruption.registry import noise_class
        from maskbench.config.typed import typed_group

        node = OmegaConf.load(path).get("corruption")
        if node is None:
            return None
        try:
            corruption = typed_group("corruption", node)
        except MaskbenchError:  # e.g. a user's objective whose file is not here: its backbone is still a model
            return None
        return corruption if noise_class(corruption).checkpoint_extra else None

    def pretraining_model(self, corruption, vocab_size: int, trained: bool = True):
        """The whole pretraining model of a maskbench encoder run (for ELECTRA: discriminator, its head and the
        generator) with the run's weights (`trained=False`: the same model untrained), in eval mode."""
        from maskbench.corruption.registry import build_pretraining_model
        from maskbench.runs.checkpoint import load_weights

        model = build_pretraining_model(self.model_cfg, self.arch, vocab_size, corruption)
        if trained:
            load_weights(model, self.files, shown=Path(self.source))
        return model.eval()

    def fill_model(self, corruption, vocab_size: int, trained: bool = True, what: str = "fill"):
        """The masked LM that predicts tokens for an objective with a model of its own (its schema's fill_model,
        e.g. ELECTRA's generator), wrapped around this run's pretraining model (`trained=False`: untrained); None
        where `corruption` (a schema object or None) names none: the backbone's own head predicts."""
        if corruption is None or not corruption.fill_model:
            return None
        from maskbench.config.schema.objectives import load_attribute

        wrap = load_attribute(corruption.fill_model, f"{what} with corruption={corruption.name}")
        return wrap(self.pretraining_model(corruption, vocab_size, trained=trained))

    @property
    def label(self) -> str:
        """A short name for run folders: the run's name, or the transformers folder's name."""
        p = Path(self.source)
        return {"maskbench": p.parent.parent.name, "transformers": p.name}.get(self.origin, "scratch")


def resolve_source(init, cache_dir=None, what: str = "init") -> ModelSource:
    """A maskbench run / checkpoint folder, or a transformers model folder."""
    from maskbench.runs.checkpoint import hold_checkpoint, latest_checkpoint, load_weights
    from maskbench.runs.layout import TASK_RECORD

    path = Path(str(init)).expanduser()
    # a config key or an option names its value with '=' (init=RUN, --model=RUN); a command its argument with ':'
    given = f"{what}={init}" if what in ("init", "compare.init") or what.startswith("-") else f"{what}: {init}"
    if not path.exists():
        raise MaskbenchError(f"{given} does not exist: give a maskbench run or checkpoint folder, or a "
                             f"transformers model folder")
    from maskbench.interop.hf_folder import is_hf_folder

    if is_hf_folder(path):
        return _transformers_source(path, cache_dir)
    if (path / "config.json").is_file():  # a transformers folder whose config cannot be read
        raise MaskbenchError(f"{given}: {path / 'config.json'} is not a JSON object with a model_type: "
                             f"save the config again (model.config.save_pretrained)")
    chosen = hold_checkpoint(lambda: path if (path / "model.safetensors").exists() else latest_checkpoint(path), what)
    if chosen is None or not (chosen[1] / "config.yaml").exists():
        raise MaskbenchError(f"{given} is neither a maskbench run or checkpoint (checkpoints/*/model.safetensors "
                             f"with config.yaml) nor a transformers model folder (config.json): give one of those")
    ckpt, held = chosen  # named as chosen; read from the held copy (a live run may prune the folder meanwhile)
    if (held / TASK_RECORD).exists():  # a fine-tuned task model: its backbone
        return _fine_tuned_backbone(ckpt, held, what)
    try:
        pre = OmegaConf.load(held / "config.yaml")
    except Exception as exc:  # a YAML error of any kind: one line
        raise MaskbenchError(f"{ckpt}/config.yaml is unreadable ({safe_reason(exc, 100)}): use another checkpoint") from None
    if not hasattr(pre, "keys") or "arch" not in pre or "model" not in pre:
        raise MaskbenchError(f"{ckpt}/config.yaml is not a pretraining config: {what} needs a pretraining run")
    check_model(pre.model, f"{ckpt}/config.yaml", "it was edited or damaged since training: restore it, or use "
                                                   "another checkpoint of the run")
    objective = pre.corruption.name if "corruption" in pre else "unknown"
    return ModelSource(pre.model, pre.arch.name, held / "tokenizer.json", str(ckpt), objective, "maskbench",
                       lambda model: load_weights(model, held, shown=ckpt), held)


def check_model(model_cfg, where: str, fix: str, names: dict | None = None) -> None:
    """The model config a file holds, checked before any model is built from it (models/shape.py): one line
    naming the file, the model.* key (and `names[key]`, its name in that file) and `fix`."""
    import re

    from maskbench.models.shape import ModelShape

    try:
        ModelShape.from_cfg(model_cfg)
    except MaskbenchError as exc:
        found = re.match(r"model\.(\w+)", str(exc))
        theirs = (names or {}).get(found.group(1)) if found else None
        named = f" (model.{found.group(1)} is its {theirs})" if theirs and theirs != found.group(1) else ""
        raise MaskbenchError(f"{where} holds a model maskbench cannot build: {exc}{named}; {fix}") from None


def _fine_tuned_backbone(ckpt: Path, held: Path, what: str) -> ModelSource:
    """The backbone of a fine-tuning checkpoint (whole task model + task.json): shape and architecture from
    task.json, weights from under `backbone.`, the objective it was pretrained with carried over."""
    import json

    from maskbench.runs.checkpoint import load_weights
    from maskbench.runs.layout import TASK_RECORD

    try:
        record = json.loads((held / TASK_RECORD).read_text())
        model_cfg, arch = OmegaConf.create(record["model"]), str(record["arch"])
    except Exception as exc:  # not JSON, not a mapping, a model that is no config: one line
        raise MaskbenchError(f"{what}: {ckpt}/{TASK_RECORD} is unreadable ({safe_reason(exc, 100)}): use another "
                             f"checkpoint") from None
    check_model(model_cfg, f"{ckpt}/{TASK_RECORD}", "it was edited or damaged since training: restore it, or use "
                                                   "another checkpoint of the run")
    return ModelSource(model_cfg, arch, held / "tokenizer.json", str(ckpt), str(record.get("objective", "unknown")),
                       "maskbench", lambda model: load_weights(model, held, prefix="backbone.", shown=ckpt), held)


def _transformers_source(folder: Path, cache_dir) -> ModelSource:
    from maskbench.data.cache_root import cache_root
    from maskbench.interop.families import hf_names, shape_from_hf
    from maskbench.interop.hf_folder import load_hf_weights, read_family
    from maskbench.interop.tokenizer import import_tokenizer

    fam, config = read_family(folder)
    tok_path = import_tokenizer(folder, cache_root(cache_dir))
    from maskbench.data.tokenizer import load_tokenizer

    n_ids, rows = load_tokenizer(tok_path).get_vocab_size(), int(getattr(config, "vocab_size", 0) or 0)
    if rows and n_ids > rows:  # ids past the embedding would get rows that were never trained
        raise MaskbenchError(f"{folder}: its tokenizer has {n_ids} ids but the model's embedding only {rows} rows: "
                             f"the tokenizer belongs to another model; save the model's own tokenizer into the folder")
    cfg = OmegaConf.create(shape_from_hf(fam, config))
    check_model(cfg, f"{folder}/config.json", "it does not describe these weights: save the model again "
                                              "(model.save_pretrained) or fix its config.json", hf_names(fam))
    return ModelSource(cfg, fam.arch, tok_path, str(folder.resolve()), f"transformers:{fam.name}", "transformers",
                       lambda model: load_hf_weights(model, folder, fam))
