"""Evaluation and benchmark commands: measured figures, not tests."""
