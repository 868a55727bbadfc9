"""maskbench: pretrain small Transformers under BERT/BART/MASS/T5 corruptions and see what they do."""

__version__ = "0.1.0"
