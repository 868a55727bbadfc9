"""Compose, validate and freeze configs (Hydra compose API; never changes the working directory).

No torch here: `maskbench --help` and `config show` stay fast.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from maskbench.errors import MaskbenchError

CONF_DIR = Path(__file__).parent / "conf"
GROUPS = ("corruption", "arch", "model", "data", "train", "runtime", "run", "experiment", "task")
# Keys that change how a run executes but not its science: left out of the run-name hash so that
# `train.resume=true` or `runtime.device=cuda` finds the same run folder.
_NON_SCIENCE = ("runtime", "run", "sweep")  # sweep: which fine-tunings follow does not change the pretraining
_NON_SCIENCE_TRAIN = ("resume", "eval_every", "ckpt_every", "keep_checkpoints", "log_every")


def user_config_dirs() -> list[Path]:
    """Folders of the user's own configs, searched besides the packaged ones: $MASKBENCH_CONFIG_DIR (set by
    `maskbench --config-dir DIR`) and ./conf, so that conf/experiment/mine.yaml gives experiment=mine."""
    import os

    dirs = [Path(os.environ["MASKBENCH_CONFIG_DIR"]).expanduser()] if os.environ.get("MASKBENCH_CONFIG_DIR") else []
    dirs.append(Path.cwd() / "conf")
    return [d.resolve() for d in dirs if d.is_dir() and d.resolve() != CONF_DIR.resolve()]


def group_options(group: str) -> list[str]:
    """The config names a group offers (packaged and the user's own), e.g. group_options('corruption')."""
    folders = [d / group for d in [CONF_DIR, *user_config_dirs()] if (d / group).is_dir()]
    if not folders:
        raise MaskbenchError(f"unknown config group '{group}': choose one of {', '.join(available_groups())}")
    return sorted({p.stem for f in folders for p in f.glob("*.yaml")})


def config_sources(cfg, overrides: list[str] = ()) -> dict[str, str]:
    """group -> the YAML file its option came from, in Hydra's search order (packaged configs first, then
    --config-dir and ./conf: a user config needs a name of its own). The experiment preset, listed first,
    may set values over any group."""
    out = {}
    for group in ("experiment",) + GROUPS:
        node = cfg.get(group)
        name = node.get("name") if node is not None and hasattr(node, "get") else None
        if group == "experiment":
            name = next((ov.partition("=")[2] for ov in overrides if ov.startswith("experiment=")), None)
        if not name:
            continue
        for folder in [CONF_DIR, *user_config_dirs()]:
            f = folder / group / f"{name}.yaml"
            if f.exists():
                out[group] = str(f)
                break
    return out


def root_for(overrides: list[str]) -> str:
    """`finetune` when the overrides name a task, compare options or an init for fine-tuning, else `pretrain`."""
    heads = {ov.lstrip("+~").partition("=")[0].split(".")[0] for ov in overrides}
    return "finetune" if heads & {"task", "compare"} else "pretrain"


def available_groups() -> list[str]:
    return sorted({p.name for d in [CONF_DIR, *user_config_dirs()] for p in d.iterdir() if p.is_dir()})


def _check_sweep_syntax(overrides: list[str]) -> None:
    for ov in overrides:
        key, _, value = ov.partition("=")
        if "," in value and not value.strip().startswith(("[", "'", '"', "{")):
            raise MaskbenchError(
                f"'{ov}' is sweep syntax: run a grid with `maskbench sweep {ov} ...`, "
                f"or pass a list as {key}=[{value}]"
            )


def _nearest_key(key: str, root: str) -> str:
    """' (did you mean train.max_steps?)' for a misspelled key, from the keys the root config has."""
    import difflib

    from omegaconf import OmegaConf

    try:
        base = load_config([], root=root, validate=False)
    except MaskbenchError:
        return ""

    def flat(d, prefix=""):
        for k, v in d.items():
            yield f"{prefix}{k}"
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
    keys = list(flat(OmegaConf.to_container(base)))
    head, _, leaf = key.rpartition(".")
    siblings = {k.rpartition(".")[2]: k for k in keys if k.rpartition(".")[0] == head}
    close = difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.7) or \
        difflib.get_close_matches(key, keys, n=1, cutoff=0.85)
    return f" (did you mean {siblings.get(close[0], close[0])}?)" if close else ""


def _translate_hydra_error(exc: Exception, overrides: list[str], root: str = "pretrain") -> MaskbenchError:
    msg = str(exc)
    m = re.search(r"Could not find '([^']+)/([^']+)'", msg)
    if m:
        group, value = m.group(1), m.group(2)
        opts = ", ".join(group_options(group)) if (CONF_DIR / group).is_dir() else ""
        return MaskbenchError(f"unknown {group} '{value}': choose one of {opts}")
    m = re.search(r"Could not override '([^']+)'", msg)
    if m:
        key = m.group(1)
        head = key.split(".")[0]
        preset = next((ov.partition("=")[2] for ov in overrides if ov.startswith("experiment=")), None)
        user_set = any(ov.lstrip("+~").split("=")[0].split(".")[0] == head for ov in overrides)
        if preset and head in ("task", "compare") and not user_set:  # a fine-tuning preset given to pretrain
            return MaskbenchError(f"experiment={preset} is a fine-tuning preset (it sets {head}): run "
                                  f"`maskbench compare experiment={preset}` or `maskbench finetune experiment={preset}`")
        hint = f"see `maskbench config show` for the keys of '{head}'" if head in GROUPS else (
            "see `maskbench config show` for valid keys")
        return MaskbenchError(f"unknown config option '{key}'{_nearest_key(key, root)}: {hint}")
    m = re.search(r"Key '([^']+)' not in '([^']+)'", msg)
    if m:
        key = f"{m.group(2)}.{m.group(1)}"
        return MaskbenchError(f"unknown config option '{key}'{_nearest_key(key, root)}: see `maskbench config show`")
    first = msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
    return MaskbenchError(f"bad config override ({first}): overrides look like key=value or group=option")


def load_config(overrides: list[str] | None = None, root: str = "pretrain", validate: bool = True):
    """Compose `conf/<root>.yaml` with command-line style overrides; validate; return a read-only DictConfig."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    overrides = list(overrides or [])
    _check_sweep_syntax(overrides)
    user_dirs = user_config_dirs()
    search = [f"hydra.searchpath=[{','.join('file://' + str(d) for d in user_dirs)}]"] if user_dirs else []
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = compose(config_name=root, overrides=search + overrides)
    except Exception as exc:  # hydra raises several types; all become one line
        raise _translate_hydra_error(exc, overrides, root) from None
    finally:
        GlobalHydra.instance().clear()
    try:
        OmegaConf.resolve(cfg)
    except Exception as exc:
        raise MaskbenchError(f"config could not be resolved: {str(exc).splitlines()[0]}") from None
    if validate:
        validate_config(cfg)
    OmegaConf.set_readonly(cfg, True)
    return cfg


def _prob(cfg, path: str, value) -> None:
    if value is None:
        return
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise MaskbenchError(f"{path}={value} is not a probability: give a value in [0, 1]")


def validate_config(cfg) -> None:
    """Cross-group checks Hydra cannot do: ranges, corruption/arch fit, sizes."""
    if "corruption" in cfg:
        _validate_corruption(cfg)
    if "task" in cfg:
        _validate_task(cfg)
    _validate_model_data_train(cfg)


def _validate_task(cfg) -> None:
    from maskbench.tasks import task_kind  # torch-free at import

    t = cfg.task
    kind = task_kind(t.kind)
    if t.format not in kind.formats:
        raise MaskbenchError(f"task.format={t.format} does not fit a {t.kind} task: choose {', '.join(kind.formats)}")
    if not isinstance(t.max_len, int) or t.max_len < 8:
        raise MaskbenchError(f"task.max_len={t.max_len} must be an integer >= 8")
    _prob(cfg, "task.dropout", t.dropout)
    for key, low in (("doc_stride", 1), ("max_query_len", 1), ("max_answer_len", 1), ("max_eval_examples", 1),
                     ("train_size", 1)):
        value = t.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise MaskbenchError(f"task.{key}={value} must be an integer >= {low}"
                                 + (" (or null for all)" if key in ("max_eval_examples", "train_size") else ""))
    if not isinstance(t.get("freeze", False), bool):
        raise MaskbenchError(f"task.freeze={t.freeze} must be true or false")
    probe = t.get("probe_layer")
    if probe is not None and (not isinstance(probe, int) or isinstance(probe, bool) or probe < 0):
        raise MaskbenchError(f"task.probe_layer={probe} must be a layer number >= 0 (0 = the embeddings) or null")
    kind.check(t)
    if t.metric not in kind.metrics:
        raise MaskbenchError(f"task.metric={t.metric} is not reported for a {t.kind} task: "
                             f"choose {', '.join(kind.metrics)}")
    pooling = t.get("pooling", "token")
    if pooling not in ("token", "mean"):
        raise MaskbenchError(f"task.pooling={pooling} is unknown: choose token ([CLS] / final [EOS]) or mean")
    if "compare" in cfg:
        _validate_compare(cfg.compare)
    init = str(cfg.get("init", "scratch"))
    if init != "scratch" and init.startswith("-"):
        raise MaskbenchError(f"init={init} is not a folder: give a pretraining run folder or init=scratch")


def _validate_corruption(cfg) -> None:
    c = cfg.corruption
    arch = cfg.arch.name
    if arch not in c.archs:
        fits = " or ".join(f"arch={a}" for a in c.archs)
        raise MaskbenchError(
            f"corruption={c.name} does not fit arch={arch}: it needs {fits} "
            f"(encoder-only takes bert_mlm, bert_mlm_nsp, span_mlm)"
        )
    for key in ("mask_prob", "mask_token_prob", "random_token_prob", "permute_prob", "rotate_prob",
                "span_frac", "noise_density", "start_at_begin_prob", "start_at_end_prob"):
        if key in c:
            _prob(cfg, f"corruption.{key}", c[key])
    if c.family in ("bert", "span", "mass"):
        total = float(c.mask_token_prob) + float(c.random_token_prob)
        if total > 1.0 + 1e-9:
            raise MaskbenchError(
                f"corruption.mask_token_prob + corruption.random_token_prob = {total:g} > 1: "
                f"the [MASK]/random/kept shares must sum to at most 1"
            )
    if c.family == "mass" and float(c.start_at_begin_prob) + float(c.start_at_end_prob) > 1.0 + 1e-9:
        raise MaskbenchError("corruption.start_at_begin_prob + start_at_end_prob > 1: they must sum to at most 1")
    if c.family == "bart":
        if c.span not in ("none", "token", "poisson"):
            raise MaskbenchError(f"corruption.span={c.span} is unknown: choose none, token or poisson")
        if c.replace not in ("mask", "delete"):
            raise MaskbenchError(f"corruption.replace={c.replace} is unknown: choose mask or delete")
        if c.span == "poisson" and not float(c.poisson_lambda) > 0:
            raise MaskbenchError(f"corruption.poisson_lambda={c.poisson_lambda} must be > 0")
    for key in ("mean_span_length", "mean_noise_span_length"):
        if key in c and not float(c[key]) >= 1.0:
            raise MaskbenchError(f"corruption.{key}={c[key]} must be >= 1")
    d = cfg.data
    if c.family == "t5":
        n_spans = round(round(c.noise_density * (d.seq_len - 2)) / c.mean_noise_span_length)
        if n_spans > d.n_sentinels:
            raise MaskbenchError(
                f"t5_span needs {n_spans} sentinels per block but data.n_sentinels={d.n_sentinels}: raise it")


def _validate_compare(c) -> None:
    from omegaconf import ListConfig

    seeds = c.get("seeds")
    if not isinstance(seeds, ListConfig) or not seeds or not all(_is_int(x) for x in seeds):
        raise MaskbenchError(f"compare.seeds={seeds} must be a list of integers, e.g. \"compare.seeds=[0,1,2]\"")
    sizes = c.get("train_sizes")
    if sizes is not None and (not isinstance(sizes, ListConfig) or not sizes
                              or not all(x == "all" or (_is_int(x) and x >= 1) for x in sizes)):
        raise MaskbenchError(f"compare.train_sizes={sizes} must be a list of example counts and/or all, "
                             f"e.g. compare.train_sizes=[100,300,1000,all] (or null)")
    ckpts = c.get("checkpoints", "last")
    if not (ckpts in ("last", "all") or (isinstance(ckpts, ListConfig) and ckpts
                                         and all(_is_int(x) and x >= 0 for x in ckpts))):
        raise MaskbenchError(f"compare.checkpoints={ckpts} must be last, all or a list of pretraining steps, "
                             f"e.g. compare.checkpoints=[400,1200,2000]")
    tasks = c.get("tasks")
    if tasks is not None and (not isinstance(tasks, ListConfig) or not tasks or not all(isinstance(t, str) for t in tasks)):
        raise MaskbenchError(f"compare.tasks={tasks} must be a list of task names, e.g. compare.tasks=[pos,sst2] (or null)")
    from omegaconf import DictConfig

    base = c.get("baselines")
    if base is not None and (not isinstance(base, DictConfig)
                             or not all(isinstance(v, (str, ListConfig)) for v in base.values())):
        raise MaskbenchError(f"compare.baselines={base} must map names to pretraining overrides or run folders, "
                             f"e.g. \"compare.baselines={{en:['experiment=xl_pretrain_en']}}\"")
    boot = c.get("bootstrap", 2000)
    if not _is_int(boot) or boot < 100:
        raise MaskbenchError(f"compare.bootstrap={boot} must be an integer >= 100 (resamples for the intervals)")


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _validate_model_data_train(cfg) -> None:
    m = cfg.model
    for key in ("d_model", "n_layers", "n_heads", "d_ff", "max_positions"):
        if not isinstance(m[key], int) or m[key] < 1:
            raise MaskbenchError(f"model.{key}={m[key]} must be a positive integer")
    if m.d_model % m.n_heads:
        raise MaskbenchError(f"model.d_model={m.d_model} is not divisible by model.n_heads={m.n_heads}")
    _prob(cfg, "model.dropout", m.dropout)
    from maskbench.models.shape import ACTIVATIONS, NORMS  # no torch there

    if m.get("norm", "pre") not in NORMS:
        raise MaskbenchError(f"model.norm={m.norm} is unknown: choose pre or post")
    if m.get("activation", "gelu") not in ACTIVATIONS:
        raise MaskbenchError(f"model.activation={m.activation} is unknown: choose {', '.join(ACTIVATIONS)}")
    for key in ("pos_offset", "n_segments"):
        if not isinstance(m.get(key, 0), int) or isinstance(m.get(key, 0), bool) or m.get(key, 0) < 0:
            raise MaskbenchError(f"model.{key}={m.get(key)} must be an integer >= 0")
    if not isinstance(m.get("ln_eps", 1e-5), float) or not 0 < m.get("ln_eps", 1e-5) < 1:
        raise MaskbenchError(f"model.ln_eps={m.get('ln_eps')} must be a small positive number, e.g. 1e-5")
    for key in ("embed_norm", "scale_embedding", "tie_embeddings"):
        if not isinstance(m.get(key, False), bool):
            raise MaskbenchError(f"model.{key}={m.get(key)} must be true or false")
    if m.get("mlm_transform") is not None and not isinstance(m.mlm_transform, bool):
        raise MaskbenchError(f"model.mlm_transform={m.mlm_transform} must be true, false or null")
    d = cfg.data
    if not isinstance(d.seq_len, int) or d.seq_len < 8:
        raise MaskbenchError(f"data.seq_len={d.seq_len} is too small: use at least 8")
    # Infilling can add a few [MASK]s for 0-length spans; keep room for them.
    if d.seq_len + 16 > m.max_positions:
        raise MaskbenchError(
            f"data.seq_len={d.seq_len} needs model.max_positions >= {d.seq_len + 16} (now {m.max_positions})")
    if not isinstance(d.vocab_size, int) or d.vocab_size < 128 + d.n_sentinels:
        raise MaskbenchError(f"data.vocab_size={d.vocab_size} is too small: use at least {128 + d.n_sentinels}")
    _prob(cfg, "data.val_fraction", d.val_fraction)
    if not d.val_fraction < 1:
        raise MaskbenchError(f"data.val_fraction={d.val_fraction} leaves nothing to train on: give a value below 1")
    if not isinstance(d.val_blocks, int) or isinstance(d.val_blocks, bool) or d.val_blocks < 1:
        raise MaskbenchError(f"data.val_blocks={d.val_blocks} must be an integer >= 1 (validation needs blocks)")
    if d.doc_split not in ("auto", "wikitext", "blank_lines", "file"):
        raise MaskbenchError(f"data.doc_split={d.doc_split} is unknown: choose auto, wikitext, blank_lines or file")
    paths = d.paths
    if isinstance(paths, str):
        raise MaskbenchError(f"data.paths must be a list: write data.paths=[{paths}]")
    t = cfg.train
    for key in ("max_steps", "batch_size", "eval_every", "ckpt_every", "log_every"):
        if not isinstance(t[key], int) or t[key] < 1:
            raise MaskbenchError(f"train.{key}={t[key]} must be a positive integer")
    for key in ("lr", "weight_decay", "warmup_steps", "grad_clip"):
        value = t.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise MaskbenchError(f"train.{key}={value} must be a number >= 0")
    if not float(t.lr) > 0:
        raise MaskbenchError(f"train.lr={t.lr} must be > 0")
    betas = t.get("betas")
    if betas is not None and (len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
        raise MaskbenchError(f"train.betas={betas} must be two numbers in [0, 1), e.g. [0.9,0.98]")
    if t.get("budget_unit", "steps") not in ("steps", "tokens", "flops"):
        raise MaskbenchError(f"train.budget_unit={t.budget_unit} is unknown: choose steps, tokens or flops")
    if t.get("budget") is not None and not float(t.budget) > 0:
        raise MaskbenchError(f"train.budget={t.budget} must be > 0 (or null to use train.max_steps)")
    if t.schedule not in ("linear", "cosine", "constant"):
        raise MaskbenchError(f"train.schedule={t.schedule} is unknown: choose linear, cosine or constant")
    from maskbench.runs.trackers import LOGGERS, check_trackers_installed  # no torch there

    loggers = cfg.run.get("loggers") or []
    if isinstance(loggers, str) or any(x not in LOGGERS for x in loggers):
        raise MaskbenchError(f"run.loggers={loggers} must be a list of {', '.join(LOGGERS)}, "
                             f"e.g. run.loggers=[jsonl,tensorboard]")
    check_trackers_installed(loggers)
    sw = cfg.get("sweep")
    if sw is not None and "launcher" in sw:
        if sw.launcher not in ("sequential", "local", "slurm"):
            raise MaskbenchError(f"sweep.launcher={sw.launcher} is unknown: choose sequential, local or slurm")
        if not isinstance(sw.jobs, int) or isinstance(sw.jobs, bool) or sw.jobs < 1:
            raise MaskbenchError(f"sweep.jobs={sw.jobs} must be an integer >= 1")
        import importlib.util

        if sw.launcher != "sequential" and importlib.util.find_spec("submitit") is None:
            raise MaskbenchError(f"sweep.launcher={sw.launcher} needs submitit: pip install 'maskbench[cluster]'")
    r = cfg.runtime
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", str(r.device)):
        raise MaskbenchError(f"runtime.device={r.device} is unknown: choose auto, cpu, cuda or cuda:N")
    for group, key in (("data", "lowercase"), ("runtime", "compile"), ("runtime", "prefetch"), ("runtime", "progress"),
                       ("runtime", "tf32"), ("train", "resume"), ("corruption", "whole_word")):
        if group in cfg and key in cfg[group] and not isinstance(cfg[group][key], bool):
            raise MaskbenchError(f"{group}.{key}={cfg[group][key]} must be true or false")
    if r.precision not in ("auto", "fp32", "bf16"):
        raise MaskbenchError(f"runtime.precision={r.precision} is unknown: choose auto, fp32 or bf16")
    mb = cfg.data.get("tokenizer_sample_mb")
    if mb is not None and (isinstance(mb, bool) or not isinstance(mb, (int, float)) or not mb > 0):
        raise MaskbenchError(f"data.tokenizer_sample_mb={mb} must be a number of megabytes > 0 (or null for all)")
    # Whole numbers with a floor; null allowed where the YAML says null means "automatic".
    for path, low, nullable in (("runtime.threads", 1, True), ("train.keep_checkpoints", 0, False),
                                ("seed", 0, False), ("data.prepare_workers", 1, True),
                                ("data.n_sentinels", 0, False),
                                ("train.subset_min_steps", 1, False)):
        group, _, key = path.rpartition(".")
        node = cfg[group] if group else cfg
        if key not in node or (nullable and node[key] is None):
            continue
        if not _is_int(node[key]) or node[key] < low:
            raise MaskbenchError(f"{path}={node[key]} must be an integer >= {low}" + (" (or null)" if nullable else ""))


def with_changes(cfg, **changes):
    """A frozen copy of `cfg` with some values replaced (nested dicts merge): configs are never mutated."""
    from omegaconf import OmegaConf

    c = OmegaConf.merge(OmegaConf.create(OmegaConf.to_container(cfg, resolve=True)), changes)
    OmegaConf.set_readonly(c, True)
    return c


def runtime_overrides(cfg) -> list[str]:
    """The speed-only settings of `cfg` as overrides, to hand on to the runs a command starts."""
    def fmt(v):
        return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
    return [f"runtime.{k}={fmt(v)}" for k, v in cfg.runtime.items() if k in ("device", "threads", "progress",
                                                                           "precision", "compile")]


def science_dict(cfg) -> dict:
    """The part of the config that defines the experiment (what the run-name hash covers)."""
    from omegaconf import OmegaConf

    d = OmegaConf.to_container(cfg, resolve=True)
    for key in _NON_SCIENCE:
        d.pop(key, None)
    for key in _NON_SCIENCE_TRAIN:
        d.get("train", {}).pop(key, None)
    return d


def config_hash(cfg) -> str:
    blob = json.dumps(science_dict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def to_yaml(cfg) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(cfg)
