"""Checking a student submission: loading, isolated worker, adapters, grid, checker, shrinking."""
