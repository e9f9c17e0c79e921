"""Benchmarks for Rulebook (``make bench``); see bench/README.md."""
