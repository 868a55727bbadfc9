"""Looking inside pretrained models: fill-in-the-blank and contextual-embedding probes."""
