"""Robustness: hostile and bad input, one test per defect, each one that failed before its fix."""
