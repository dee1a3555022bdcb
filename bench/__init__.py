"""Benchmarks (docs/architecture.md §Scale and operations)."""
