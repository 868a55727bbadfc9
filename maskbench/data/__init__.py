"""Text in, token blocks out: corpus reading, tokenizer, memory-mapped token cache, packed blocks."""
