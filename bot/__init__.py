"""parley's conversation core: everything between a platform adapter and an LLM backend."""
