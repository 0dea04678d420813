"""Half-size storage: publish float16 or bfloat16 weights when that changes no accuracy that matters.

    check = check_half_size("runs/RUN", "float16", data_dir="DATA")   # evaluates both on the test split
    if check.passed:
        neurozoo.save(neurozoo.load("runs/RUN"), "OUT", dtype="float16")

``neurozoo half NAME_OR_RUN --dtype float16 --out OUT --data-dir DATA`` does both, and writes
nothing when the check fails. The check stores the model as ``dtype`` through ``neurozoo.save``,
loads it back (``load`` returns float32 modules) and evaluates that model and the float32 one with
the shared evaluation (top-1, or exact-set for multi-label sets) on the whole test split: the
half-size copy passes when its accuracy is within ``MAX_CHANGE_PP`` percentage points of the
original's. The evaluation JSON of a checkpoint names the sha256 of its weights, so a half-size
copy is a new checkpoint: evaluate it again before writing its card and record.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from neurozoo.checkpoint import WEIGHTS_NAME, load_folder, save
from neurozoo.errors import ConfigError
from neurozoo.records import STORAGE_DTYPES
from neurozoo.zoo import resolve

MAX_CHANGE_PP = 0.1
HALF_DTYPES = tuple(d for d in STORAGE_DTYPES if d != "float32")
CLEAN_METRIC = {"multiclass": "top1", "multilabel": "exact_set"}


@dataclass(frozen=True)
class HalfSizeCheck:
    dtype: str
    metric: str
    images: int
    fp32_accuracy: float
    half_accuracy: float  # of the float32 model loaded back from the ``dtype`` weights
    fp32_bytes: int  # of model.safetensors
    half_bytes: int
    max_change_pp: float = MAX_CHANGE_PP

    @property
    def change_pp(self) -> float:
        return 100.0 * (self.half_accuracy - self.fp32_accuracy)

    @property
    def passed(self) -> bool:
        return abs(self.change_pp) <= self.max_change_pp

    def summary(self) -> str:
        verdict = "passes" if self.passed else "fails"
        return (
            f"{self.dtype}: {WEIGHTS_NAME} {self.half_bytes:,} bytes instead of {self.fp32_bytes:,} "
            f"({100 * (1 - self.half_bytes / self.fp32_bytes):.1f} % smaller); {self.metric} on {self.images:,} "
            f"test images {100 * self.fp32_accuracy:.2f} % -> {100 * self.half_accuracy:.2f} % "
            f"({self.change_pp:+.2f} pp): {verdict} the {self.max_change_pp} pp limit"
        )


def check_half_size(
    source: str | os.PathLike,
    dtype: str = "float16",
    *,
    data_dir: str | os.PathLike | None = None,
    max_change_pp: float = MAX_CHANGE_PP,
    batch_size: int = 256,
) -> HalfSizeCheck:
    """Compare the accuracy of a checkpoint with that of its ``dtype`` copy on the whole test split."""
    from neurozoo.evaluation import evaluate

    if dtype not in HALF_DTYPES:
        raise ConfigError(f"dtype must be one of {HALF_DTYPES}, got {dtype!r}")
    folder = Path(resolve(source))
    model = load_folder(folder)
    if model.config["dtype"] != "float32":
        raise ConfigError(f"{folder} already stores {model.config['dtype']} weights; check the float32 original")
    metric = CLEAN_METRIC[model.config["task"]]
    dataset = model.config["dataset"]
    if not dataset:
        raise ConfigError(f"{folder} names no dataset in its config.json: there is no test split to check on")

    def accuracy(checkpoint: Path) -> tuple[float, int]:
        result = evaluate(checkpoint, dataset, [metric], data_dir=data_dir, batch_size=batch_size)
        return result["metrics"][metric][metric], result["num_samples"]

    with tempfile.TemporaryDirectory(prefix="neurozoo-half-") as tmp:
        half_folder = save(model, Path(tmp) / "half", dtype=dtype)
        fp32_accuracy, images = accuracy(folder)
        half_accuracy, _ = accuracy(half_folder)
        half_bytes = (half_folder / WEIGHTS_NAME).stat().st_size
    return HalfSizeCheck(dtype, metric, images, fp32_accuracy, half_accuracy,
                         (folder / WEIGHTS_NAME).stat().st_size, half_bytes, max_change_pp)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "half", help="store a checkpoint's weights as float16/bfloat16 if its test accuracy stays within 0.1 pp",
        description="Evaluate the checkpoint and its half-size copy on the whole test split; write the copy "
        "(model.safetensors + config.json) to --out only if the accuracies differ by at most --max-change pp.",
    )
    p.add_argument("source", metavar="NAME_OR_RUN")
    p.add_argument("--dtype", choices=HALF_DTYPES, default="float16")
    p.add_argument("--out", required=True, help="folder for the half-size checkpoint")
    p.add_argument("--data-dir", help="dataset folder (default: $NEUROZOO_DATA)")
    p.add_argument("--max-change-pp", type=float, default=MAX_CHANGE_PP, metavar="PP",
                   help=f"largest accuracy change allowed, in percentage points (default {MAX_CHANGE_PP})")
    p.set_defaults(func=_cmd_half)


def _cmd_half(args) -> int:
    check = check_half_size(args.source, args.dtype, data_dir=args.data_dir, max_change_pp=args.max_change_pp)
    print(check.summary())
    if not check.passed:
        raise ConfigError(f"{args.dtype} changes the accuracy by {check.change_pp:+.2f} pp: nothing was written; "
                          "keep the float32 weights")
    folder = save(load_folder(resolve(args.source)), args.out, dtype=args.dtype)
    print(f"wrote {folder / WEIGHTS_NAME} ({args.dtype}); evaluate it (`neurozoo eval {folder}`) before its card")
    return 0
