"""Training: one loop shared by pretraining and fine-tuning, plus state, optimiser and checkpoints."""
