"""Benchmarks: figures are measured and written to bench/RESULTS.md, never asserted in tests."""
