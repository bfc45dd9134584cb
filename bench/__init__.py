"""Benchmarks of the product (not collected by pytest): see docs/ref/bench.md."""
