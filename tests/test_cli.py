"""The command line as a user meets it: one-line errors (no traceback), JSON stats, config listing."""

import json
import subprocess
import sys

import pytest


def run(*args, timeout=300):
    proc = subprocess.run([sys.executable, "-m", "maskbench", *args], capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_line_error(code, out, err, needle):
    assert code == 2, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], err


@pytest.mark.parametrize("args, needle", [
    (["pretrain", "corruption=bart_infill", "arch=encoder"], "arch=encoder_decoder"),
    (["pretrain", "corruption=bogus"], "unknown corruption 'bogus'"),
    (["pretrain", "train.bogus=3"], "unknown config option 'train.bogus'"),
    (["pretrain", "corruption.mask_prob=2"], "not a probability"),
    (["pretrain", "corruption.mask_token_prob=0.8", "corruption.random_token_prob=0.3"], "sum to at most 1"),
    (["pretrain", "data.paths=[/nonexistent/text.txt]"], "does not exist"),
])
def test_bad_input_is_one_line(args, needle):
    assert_one_line_error(*run(*args), needle)


def test_empty_and_non_utf8_corpus(tmp_path, cache_dir):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Caf\u00e9 au lait.\n".encode("latin-1"))
    common = [f"data.cache_dir={cache_dir}", "experiment=debug", "runtime.progress=false"]
    assert_one_line_error(*run("pretrain", f"data.paths=[{empty}]", *common, f"run.dir={tmp_path / 'a'}"),
                          "corpus is empty")
    code, out, err = run("pretrain", f"data.paths=[{latin}]", *common, f"run.dir={tmp_path / 'b'}")
    assert_one_line_error(code, out, err, "not UTF-8")
    assert "iconv" in err


def test_existing_run_is_not_overwritten(tiny_overrides, tmp_path):
    run_dir = tmp_path / "r"
    code, _, err = run("pretrain", *tiny_overrides, f"run.dir={run_dir}", "train.max_steps=4")
    assert code == 0, err
    before = (run_dir / "metrics.jsonl").read_text()
    assert_one_line_error(*run("pretrain", *tiny_overrides, f"run.dir={run_dir}", "train.max_steps=4"),
                          "already exists")
    assert (run_dir / "metrics.jsonl").read_text() == before
    code, out, _ = run("pretrain", *tiny_overrides, f"run.dir={run_dir}", "train.max_steps=4", "train.resume=true")
    assert code == 0 and "already complete" in out


def test_corrupt_stats_json(tiny_overrides):
    code, out, err = run("corrupt", *tiny_overrides, "corruption=bart_infill", "arch=encoder_decoder",
                         "--stats", "--json", "--blocks", "300")
    assert code == 0, err
    s = json.loads(out)
    keys = {"corruption", "blocks", "tokens", "selected_frac", "mask_frac", "random_frac", "kept_frac",
            "span_count_mean", "span_len_mean", "zero_len_span_frac", "sentences_moved_frac", "rotated_frac",
            "source_len_ratio", "target_len_ratio", "specials_touched"}
    assert keys <= set(s)
    assert s["corruption"] == "bart_infill" and s["blocks"] == 300 and s["specials_touched"] == 0
    assert s["rotated_frac"] is None and abs(s["selected_frac"] - 0.3) < 0.02


def test_corrupt_text_shows_both_sides(tiny_overrides):
    code, out, err = run("corrupt", *tiny_overrides, "corruption=t5_span", "arch=encoder_decoder",
                         "--text", "The river runs to the north of the city. The school has a new team.")
    assert code == 0, err
    assert "encoder input" in out and "decoder target" in out and "[X0]" in out


def test_config_list_and_show():
    code, out, _ = run("config", "list")
    assert code == 0 and "corruption: bart," in out and "t5_span" in out and "arch: encoder, encoder_decoder" in out
    code, out, _ = run("config", "show", "corruption=mass_span", "arch=encoder_decoder")
    assert code == 0 and "span_frac: 0.5" in out and "run folder:" in out


def test_plot_command(tiny_overrides, tmp_path):
    run_dir = tmp_path / "r"
    assert run("pretrain", *tiny_overrides, f"run.dir={run_dir}", "train.max_steps=4")[0] == 0
    out_png = tmp_path / "cmp.png"
    code, _, err = run("plot", str(run_dir), "-o", str(out_png))
    assert code == 0, err
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
