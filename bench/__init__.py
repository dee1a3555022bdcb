"""Benchmarks (DESIGN §8)."""
