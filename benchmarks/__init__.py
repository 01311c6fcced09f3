"""Benchmarks: run with one command each, print figures and ratios; not timed tests."""
