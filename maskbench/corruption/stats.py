"""Measured statistics of a corruption over many blocks, next to the configured values.

Every figure is read from the corruption's own diagnostics and outputs, so the numbers say what the
code did, not what the config asked for."""

from __future__ import annotations

import torch

from maskbench.corruption.base import KEPT, MASKED, RANDOM, is_special


class StatsAccumulator:
    def __init__(self, name: str, vocab):
        self.name, self.vocab = name, vocab
        self.sums: dict[str, float] = {}
        self.span_hist: dict[int, int] = {}

    def _add(self, key, value):
        self.sums[key] = self.sums.get(key, 0.0) + float(value)

    def update(self, out, original_tokens: torch.Tensor) -> None:
        d, v = out.diag, self.vocab
        B, C = d.original.shape
        self._add("blocks", B)
        self._add("tokens", B * C)
        self._add("non_special", (~is_special(d.original, v)).sum())
        self._add("selected", d.selected.sum())
        for key, code in (("masked", MASKED), ("random", RANDOM), ("kept", KEPT)):
            self._add(key, (d.action == code).sum())
        # Specials touched: a special original selected, or a random replacement that is special,
        # or a special id in the encoder input that the framing/corruption did not put there by design.
        touched = (d.selected & is_special(d.original, v)).sum()
        if d.random_ids is not None:
            touched += ((d.random_ids >= 0) & v.special_table(d.random_ids.device)[d.random_ids.clamp_min(0)]).sum()
        touched += (is_special(original_tokens, v)).sum()  # content must never contain specials
        self._add("specials_touched", touched)
        if d.span_lengths is not None:
            lens = d.span_lengths[d.span_valid]
            self._add("spans", lens.numel())
            self._add("span_tokens", lens.sum())
            self._add("zero_spans", (lens == 0).sum())
            for length, count in zip(*torch.unique(lens, return_counts=True)):
                self.span_hist[int(length)] = self.span_hist.get(int(length), 0) + int(count)
        if d.sentences is not None:
            self._add("sentences", d.sentences.sum())
            self._add("sentences_moved", d.sentences_moved.sum())
        if d.rotated is not None:
            self._add("rotated", d.rotated.sum())
        if d.nsp_is_next is not None:
            self._add("is_next", d.nsp_is_next.sum())
        if d.modes is not None:  # UL2: how often each denoiser was drawn
            for j, count in zip(*torch.unique(d.modes, return_counts=True)):
                self._add(f"mode_{int(j)}", count)
        for key, values in (d.per_block or {}).items():
            self._add(f"block:{key}", values.float().sum())
        self._add("source_len", d.source_len.sum())
        if d.target_len is not None:
            self._add("target_len", d.target_len.sum())
        elif out.decoder_input_ids is not None:
            self._add("target_len", (out.labels >= 0).sum())

    def add_replaced(self, replaced, selected) -> None:
        """ELECTRA: positions the generator's sample replaced, and samples equal to the original."""
        self._add("replaced", replaced.sum())
        self._add("sampled_same", (selected & ~replaced).sum())

    def result(self) -> dict:
        s = self.sums
        sel = s.get("selected", 0.0)

        def frac(num, den):
            return None if num not in s or not s.get(den) else round(s[num] / s[den], 4)

        return {
            "corruption": self.name,
            "blocks": int(s["blocks"]),
            "tokens": int(s["tokens"]),
            "selected_frac": frac("selected", "non_special"),
            "mask_frac": frac("masked", "selected") if s.get("masked") or s.get("random") else None,
            "random_frac": frac("random", "selected") if s.get("masked") or s.get("random") else None,
            "kept_frac": frac("kept", "selected") if s.get("masked") or s.get("random") else None,
            "span_count_mean": round(s["spans"] / s["blocks"], 3) if "spans" in s else None,
            "span_len_mean": frac("span_tokens", "spans"),
            "zero_len_span_frac": frac("zero_spans", "spans"),
            "span_len_hist": {str(k): v for k, v in sorted(self.span_hist.items())} or None,
            "sentences_moved_frac": frac("sentences_moved", "sentences"),
            "rotated_frac": frac("rotated", "blocks"),
            "nsp_is_next_frac": frac("is_next", "blocks"),
            "source_len_ratio": frac("source_len", "tokens"),
            "target_len_ratio": frac("target_len", "tokens"),
            # ELECTRA: replaced = selected - sampled equal to the original (shares of the non-special tokens)
            "replaced_frac": frac("replaced", "non_special"),
            "sampled_same_frac": frac("sampled_same", "non_special"),
            "specials_touched": int(s.get("specials_touched", 0)),
            "selected_tokens": int(sel),
            "denoiser_shares": {k[5:]: round(v / s["blocks"], 4) for k, v in sorted(s.items())
                                if k.startswith("mode_")} or None,
            **{k[6:]: round(v / s["blocks"], 4) for k, v in sorted(s.items()) if k.startswith("block:")},
        }
