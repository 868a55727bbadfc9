"""The `maskbench` command line: a thin Typer app. Parse, load the config, call the command's runner.

Heavy imports (torch, hydra, matplotlib) happen inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from maskbench.guard import OneLineUsage, console as _console, guard as _guard

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich", cls=OneLineUsage,
                  help="Pretrain small Transformers under BERT/BART/MASS/T5 corruptions, and see what they do.")
config_app = typer.Typer(no_args_is_help=True, help="Inspect configs: show the composed config, list options.")
app.add_typer(config_app, name="config")

OVERRIDES = typer.Argument(None, help="Config overrides: group=option or key=value (e.g. corruption=bart_infill "
                                      "arch=encoder_decoder train.max_steps=2000).")


@app.callback()
def _options(config_dir: Optional[Path] = typer.Option(
        None, "--config-dir", help="A folder of your own configs (like ./conf, which is always searched): "
                                   "DIR/experiment/mine.yaml gives experiment=mine.")):
    if config_dir is not None:
        import os

        os.environ["MASKBENCH_CONFIG_DIR"] = str(config_dir)


def _command_line() -> str:
    return " ".join(["maskbench", *sys.argv[1:]])


@app.command()
def pretrain(overrides: Optional[List[str]] = OVERRIDES):
    """Pretrain a model under a corruption; writes a run folder (metrics.jsonl, checkpoints, plots)."""
    def body():
        from maskbench.config import load_config
        from maskbench.train.pretrain import run_pretrain

        cfg = load_config(overrides or [])
        run_pretrain(cfg, command=_command_line(), console=_console())
    _guard(body)


@app.command()
def finetune(overrides: Optional[List[str]] = OVERRIDES):
    """Fine-tune init=RUN_DIR (or init=scratch) on task=sst2|pos|nli|qa; writes a run folder."""
    def body():
        from maskbench.config import load_config
        from maskbench.train.finetune import run_finetune

        cfg = load_config(overrides or [], root="finetune")
        run_finetune(cfg, command=_command_line(), console=_console())
    _guard(body)


@app.command()
def compare(overrides: Optional[List[str]] = OVERRIDES):
    """Pretrained vs from-scratch fine-tuning (same data order, seeds): compare.png + summary.json, every gap
    with a 95% interval.

    Starts from compare.init=RUN_DIR, or pretrains first with compare.pretrain=[...] (default:
    experiment=demo), reusing that run if it exists. compare.train_sizes=[100,300,1000,all]: label-efficiency
    curves; compare.checkpoints=all: the gap against pretraining steps; compare.baselines / compare.tasks /
    task.extra_eval: more models, tasks, evaluation sets (experiment=crosslingual)."""
    def body():
        from maskbench.config import load_config
        from maskbench.train.compare import run_compare, run_compare_tasks

        cfg = load_config(overrides or [], root="finetune")
        if cfg.compare.tasks:
            run_compare_tasks(list(overrides or []), command=_command_line(), console=_console())
        else:
            run_compare(cfg, command=_command_line(), console=_console())
    _guard(body)


@app.command()
def corrupt(
    overrides: Optional[List[str]] = OVERRIDES,
    text: Optional[str] = typer.Option(None, "--text", "-t", help="Corrupt this text (default: a corpus block)."),
    stats: bool = typer.Option(False, "--stats", help="Measure the corruption over many corpus blocks."),
    blocks: int = typer.Option(2000, "--blocks", "-n", help="Blocks sampled for --stats."),
    as_json: bool = typer.Option(False, "--json", help="Print --stats as one JSON object."),
    seed: int = typer.Option(0, "--seed", help="Corruption seed for --text / the shown block."),
    step: Optional[int] = typer.Option(None, "--step", help="With corruption.mask_schedule: corrupt at this step "
                                                            "of train.max_steps (default: the end rate)."),
    model: Optional[Path] = typer.Option(None, "--model", help="corruption=electra: the ELECTRA run whose generator "
                                                               "samples (default: a fresh, seeded one)."),
):
    """Show what a corruption does to a sentence, or measure it over the corpus (--stats)."""
    def body():
        from maskbench.config import load_config
        from maskbench.inspect.corrupt import run_corrupt

        cfg = load_config(overrides or [])
        run_corrupt(cfg, text=text, stats=stats, n_blocks=blocks, as_json=as_json, seed=seed, console=_console(),
                    step=step, model=model)
    _guard(body)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sweep(overrides: Optional[List[str]] = OVERRIDES):
    """Run a grid (Hydra sweep syntax: corruption=bert_mlm,bart_infill seed=1,2); resumable; then report.

    sweep.tasks=[sst2,pos] fine-tunes every pretrained model (plus a from-scratch baseline);
    train.budget=N train.budget_unit=steps|tokens|flops matches budgets across objectives."""
    def body():
        from maskbench.train.sweep import run_sweep

        run_sweep(overrides or [], console=_console())
    _guard(body)


@app.command()
def report(dirs: List[Path] = typer.Argument(..., help="Folders holding finished runs (searched recursively)."),
           out: Optional[Path] = typer.Option(None, "-o", "--out", help="Output folder (default: DIRS[0]/report).")):
    """Objective-by-objective tables (Markdown, CSV, terminal) and overlaid curves from runs on disk."""
    def body():
        from maskbench.report.tables import write_report

        write_report(dirs, out or Path(dirs[0]) / "report", _console())
    _guard(body)


@app.command()
def fill(checkpoint: Path = typer.Argument(..., help="Run, checkpoint or transformers model folder."),
         text: str = typer.Argument(..., help='Text with [MASK] blanks, e.g. "paris is the [MASK] of france ."'),
         top_k: int = typer.Option(5, "--top-k", "-k", help="Predictions per blank (encoder)."),
         beam: int = typer.Option(1, "--beam", help="Beam size for an encoder-decoder (1 = greedy, at most 16)."),
         as_json: bool = typer.Option(False, "--json", help="Print the predictions as one JSON object.")):
    """Fill in the blanks: top-k per [MASK] (encoder) or the generated reconstruction (encoder-decoder).

    CHECKPOINT: a maskbench run or checkpoint folder, or a transformers model folder."""
    def body():
        from maskbench.inspect.fill import run_fill

        run_fill(checkpoint, text, top_k, beam, _console(), as_json)
    _guard(body)


@app.command()
def export(checkpoint: Path = typer.Argument(..., help="Run, checkpoint or transformers model folder."),
           out: Path = typer.Option(..., "-o", "--out", help="The transformers model folder to write (new)."),
           step: Optional[int] = typer.Option(None, "--step", help="Export the run's kept checkpoint of this step "
                                                                   "(default: its final one).")):
    """Write a transformers model folder (config.json, safetensors, tokenizer) that AutoModel*, AutoTokenizer,
    pipeline("fill-mask") and generate() load as they are; a fine-tuned encoder becomes its task class
    (*ForSequenceClassification, *ForTokenClassification, *ForQuestionAnswering). Needs transformers (the hf extra)."""
    def body():
        from maskbench.export.model import export_model

        export_model(checkpoint, out, _console(), step=step)
    _guard(body)


@app.command()
def predict(run: Path = typer.Argument(..., help="A fine-tuning run folder (or one of its checkpoints)."),
            text: Optional[str] = typer.Option(None, "--text", "-t", help="One input: the sentence, the first of a "
                                               "pair, the words to tag (space-separated), or the question."),
            text_pair: Optional[str] = typer.Option(None, "--text-pair", help="The second sentence of a pair, or "
                                                    "the context of a question."),
            file: Optional[Path] = typer.Option(None, "--file", "-f", help="Inputs: the task's own formats "
                                                "(.tsv/.csv/.jsonl, .conllu/.conll, SQuAD .json) or .txt, one "
                                                "input per line (parts tab-separated). Labels optional."),
            out: Optional[Path] = typer.Option(None, "-o", "--out", help="JSON-lines file to write (default: "
                                               "standard output)."),
            batch_size: int = typer.Option(32, "--batch-size", help="Inputs per forward pass."),
            step: Optional[int] = typer.Option(None, "--step", help="Use the run's kept checkpoint of this step.")):
    """Run a fine-tuned model on new inputs: one JSON object per input ("label" and "probs"; "tags"; or
    "answer", "start", "end", "score"). A labelled --file is also scored with the run's metric."""
    def body():
        from maskbench.inspect.predict import run_predict

        run_predict(run, text, text_pair, file, out, batch_size, _console(), _console(stderr=True), step)
    _guard(body)


@app.command()
def probe(checkpoint: Path = typer.Argument(..., help="Run, checkpoint or transformers model folder."),
          word: str = typer.Option("apple", "--word", "-w", help="The word to follow across sentences."),
          file: Optional[Path] = typer.Option(None, "--file", "-f", help="SENSE<TAB>SENTENCE lines "
                                              "(default: a shipped set of 'apple' the fruit vs the company)."),
          out: Optional[Path] = typer.Option(None, "-o", "--out", help="Heatmap PNG path."),
          scratch: bool = typer.Option(False, "--scratch", help="Same model with random weights (the control)."),
          as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON.")):
    """Contextual embeddings of one word across sentences: similarity heatmap and within/across-sense table."""
    def body():
        from maskbench.inspect.probe import run_probe

        run_probe(checkpoint, word, file, out, scratch, _console(), as_json)
    _guard(body)


@app.command()
def score(runs: List[Path] = typer.Argument(..., help="Pretraining run or checkpoint folders, or transformers model "
                                                      "folders with an LM head."),
          pairs: List[Path] = typer.Option(..., "--pairs", "-p", help="Minimal pairs: a BLiMP .jsonl file (sentence_good, "
                                           "sentence_bad, UID, field), a .tsv/.txt (good<TAB>bad[<TAB>group]) or a "
                                           "folder of them; repeat to add more."),
          method: Optional[str] = typer.Option(None, "--method", help="pll (default: each token masked in turn), "
                                               "pll-word (a word's later sub-words masked too) or all-masked "
                                               "(encoder-decoders: the decoder's likelihood of the whole sentence)."),
          per_token: bool = typer.Option(False, "--per-token", help="Compare mean log-probability per token "
                                         "instead of the sum (length normalisation; BLiMP's protocol is the sum)."),
          checkpoints: Optional[str] = typer.Option(None, "--checkpoints", help="all | N,M,...: accuracy over the "
                                                    "run's kept checkpoints beside its validation loss."),
          as_json: bool = typer.Option(False, "--json", help="Print the results as one JSON object."),
          out: Optional[Path] = typer.Option(None, "-o", "--out", help="Figure: paradigms as rows (pretrained vs "
                                             "random weights), or with --checkpoints accuracy against steps."),
          seed: int = typer.Option(0, "--seed", help="Seed of the random-weight model scored beside each run.")):
    """Zero-shot minimal pairs (BLiMP-style): does the model give the grammatical sentence the higher
    (pseudo-)likelihood? Accuracy per paradigm and overall with 95% intervals, beside the same model with random
    weights; ties count as wrong. Encoders: pseudo-log-likelihood; encoder-decoders: the decoder's log-probability
    of the sentence hidden in its input; ELECTRA: its generator."""
    def body():
        from maskbench.inspect.score import run_score

        run_score(runs, pairs, method, per_token, checkpoints, as_json, out, seed, _console(), _console(stderr=True))
    _guard(body)


@app.command()
def plot(run_dirs: List[Path] = typer.Argument(..., help="Run folders to overlay."),
         out: Optional[Path] = typer.Option(None, "-o", "--out", help="PNG path (default: loss.png here)."),
         x: str = typer.Option("steps", "--x", help="x axis: steps | tokens | flops | seconds (compute, "
                                                     "as budgets are matched).")):
    """Overlay loss curves of finished or running runs into one PNG."""
    def body():
        from maskbench.errors import MaskbenchError
        from maskbench.report.plots import plot_runs

        from maskbench.runs.layout import metrics_path

        for d in run_dirs:
            if not metrics_path(d).exists():
                raise MaskbenchError(f"{d} has no metrics.jsonl: give maskbench run folders")
        path = plot_runs(run_dirs, out or Path("loss.png"), x=x)
        _console().print(f"wrote {path}")
    _guard(body)


@config_app.command("show")
def config_show(overrides: Optional[List[str]] = OVERRIDES):
    """Print the composed, validated config."""
    def body():
        from maskbench.config import config_sources, load_config, root_for, to_yaml
        from maskbench.errors import FinetunePreset
        from maskbench.runs.rundir import RunDir
        from maskbench.config.schema.root import PretrainConfig

        over = list(overrides or [])
        try:
            cfg = load_config(over, root=root_for(over))
        except FinetunePreset:  # a preset that sets a task: show it as `finetune` / `compare` compose it
            cfg = load_config(over, root="finetune")
        typer.echo(to_yaml(cfg).rstrip())
        for group, path in config_sources(cfg, over).items():
            typer.echo(f"# {group}: {path}")
        if isinstance(cfg, PretrainConfig):
            typer.echo(f"# run folder: {RunDir.for_pretraining(cfg).path}")
    _guard(body)


@config_app.command("list")
def config_list(group: Optional[str] = typer.Argument(None, help="A group (corruption, arch, model, ...).")):
    """List the options of each config group (or of one)."""
    def body():
        from maskbench.config import available_groups, group_options

        for g in [group] if group else available_groups():
            typer.echo(f"{g}: {', '.join(group_options(g))}")
    _guard(body)


if __name__ == "__main__":
    app()
