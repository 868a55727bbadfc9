"""Pictures and tables from files on disk (metrics.jsonl, summary.json). No torch."""
