"""Benchmarks. Each module is a script that prints its figures; none of them is a test."""
