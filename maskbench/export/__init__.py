"""`maskbench export`: a run or checkpoint as a transformers model folder (+ tokenizer), checked against our logits.

model.py     the command: resolve the run, pick the mapping, write atomically, compare outputs
electra.py   an ELECTRA run as ElectraForPreTraining + its generator (ElectraForMaskedLM) in generator/
task.py      a fine-tuned task model as a transformers task class (…ForSequenceClassification, …)

It sits above runs/ (it loads runs) and uses interop/ (the class mapping, folders, tokenizers) below it.
"""
