"""Evaluation shared by every method."""
