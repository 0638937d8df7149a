"""Benchmarking proxies against ground truth: tables, correlations, plots."""
