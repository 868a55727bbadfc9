"""Run folders on disk: config, command, environment, metrics.jsonl, summary.json, progress display."""
