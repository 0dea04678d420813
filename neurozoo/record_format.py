"""How the figures of a checkpoint record are written for people: `neurozoo list`, the README zoo table."""

from __future__ import annotations

from neurozoo.records import Checkpoint, Recipe

CLEAN_FIGURES = ("top1", "exact_set")  # clean accuracy of a multiclass / multi-label model
WEIGHTS = "model.safetensors"


def clean_figure(record: Checkpoint) -> str | None:
    """The name of the record's clean-accuracy figure (``top1`` or ``exact_set``), if it has one."""
    return next((name for name in CLEAN_FIGURES if name in record.metrics), None)


def params_text(params: int | None) -> str:
    return "" if params is None else f"{params / 1e6:.2f} M"


def size_text(size: int | None) -> str:
    return "" if size is None else f"{size / 1e6:.1f} MB"


def weights_text(record: Checkpoint) -> str:
    """Size and storage type of model.safetensors, e.g. "44.7 MB fp32"."""
    size = record.file_sizes.get(WEIGHTS)
    short = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}[record.dtype]
    return f"{size_text(size)} {short}" if size is not None else ""


def figure_text(value: float | None, images: int | None = None, percent: bool = True) -> str:
    """A figure as a percentage with one decimal (an accuracy: a fraction of the images), or else (a DeepFool
    score, an AUROC) with four significant digits, and the number of test images when not the whole set."""
    if value is None:
        return ""
    return (f"{100 * value:.1f} %" if percent else f"{value:.4g}") + (f" ({images:,} img)" if images else "")


def budget_text(recipe: Recipe | None) -> str:
    if recipe is None:
        return ""
    return f"{recipe.epochs} ep, {recipe.images_seen:,} img"
