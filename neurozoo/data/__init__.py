"""Datasets: real data from .npz folders or torchvision layouts, multi-object digits, corruptions."""
