"""FFCL: improved forward-forward contrastive learning, no backpropagation across layers.

Gananath R, "Improved Forward-Forward Contrastive Learning", arXiv 2405.03432 (2024). See
README.md in this folder for the recipe, the documented choices and the measured experiment.
"""

from neurozoo import Architecture, Checkpoint, License, Method, Recipe, hookimpl

from .method import FFCL, adapt_model
from .models import ffcl_mlp


@hookimpl
def register_architectures(register):
    register(Architecture(
        "ffcl_mlp", ffcl_mlp, (1, 28, 28),
        "twin MLPs A/B for FFCL, hidden=(64, 64); predict='mean'|'a'|'b'",
    ))


@hookimpl
def register_methods(register):
    register(Method(
        "ffcl",
        trainer=FFCL,
        adapt_model=adapt_model,
        description="twin networks, each layer trained by its own local loss (A/B cosine agreement, BCE output)",
        paper="Gananath R, Improved Forward-Forward Contrastive Learning, arXiv 2405.03432 (2024)",
        metrics=("top1", "nmi", "ece"),
    ))


HARDWARE = "CPU: 2-core AMD EPYC (Zen 4) VM shared with other jobs, OMP_NUM_THREADS=1"

# Drafted by `neurozoo record model_cards/NAME ...` from the files (scripts/zoo/ffcl_mlp_mnist.sh made the
# runs); tests/test_checkpoint_records.py checks every number against the files and evaluation JSON.
CHECKPOINTS = (
    Checkpoint(
        method="ffcl",
        arch="ffcl_mlp",
        dataset="mnist",
        repo_id="neurozoo/ffcl-ffcl_mlp-mnist",
        files={
            "model.safetensors": "1a28f698e5957a98dcd69a48d6d1c19b9281250703781a1dfa5b782518ac9ab2",
            "config.json": "7519c9120f579e0f70db42200d9767cdaf9800a3389de556d40d93740978760a",
        },
        file_sizes={"model.safetensors": 441688, "config.json": 445},
        params=110100,
        gflops=0.0002196,
        recipe=Recipe(
            command="neurozoo train ffcl --arch ffcl_mlp --seed 0 --dataset mnist --data-dir DATA --out RUN",
            epochs=30,
            images_seen=1800000,
            batch_size=128,
            precision="fp32 throughout, channels_last",
            hardware=HARDWARE,
        ),
        license=License(weights="mit"),
        paper="Gananath R, Improved Forward-Forward Contrastive Learning, arXiv 2405.03432 (2024)",
        metrics={
            "top1": 0.3049,
            "nmi": 0.06423847860449003,
            "ece": 0.17622828125730156,
            "misclassification_auroc": 0.7375483984574775,
            "noise_sigma_0.05": 0.3008,
            "noise_sigma_0.1": 0.2942,
            "noise_sigma_0.2": 0.2651,
            "noise_sigma_0.3": 0.2282,
            "salt_and_pepper_severity_1": 0.3012,
            "salt_and_pepper_severity_2": 0.3033,
            "salt_and_pepper_severity_3": 0.3029,
            "salt_and_pepper_severity_4": 0.2959,
            "salt_and_pepper_severity_5": 0.2896,
            "blur_severity_1": 0.3033,
            "blur_severity_2": 0.2951,
            "blur_severity_3": 0.2909,
            "blur_severity_4": 0.2858,
            "blur_severity_5": 0.2747,
            "jpeg_severity_1": 0.3039,
            "jpeg_severity_2": 0.303,
            "jpeg_severity_3": 0.3036,
            "jpeg_severity_4": 0.3037,
            "jpeg_severity_5": 0.3022,
            "contrast_severity_1": 0.23,
            "contrast_severity_2": 0.1203,
            "contrast_severity_3": 0.1139,
            "contrast_severity_4": 0.1135,
            "contrast_severity_5": 0.1135,
        },
        headline="noise_sigma_0.1",
        baseline="baseline-mlp-mnist",
        int8_metrics={"top1": 0.34},
        description="FFCL twin MLP 784-64-64-10, the paper's recipe at its full budget (30 epochs of full MNIST, Adam 1e-4, fp32, no augmentation; seed 0 of 3)",
    ),
    Checkpoint(
        method="ffcl",
        arch="ffcl_mlp",
        dataset="mnist",
        tag="vicreg",
        repo_id="neurozoo/ffcl-ffcl_mlp-mnist.vicreg",
        files={
            "model.safetensors": "518ca86095904d1e2b17d753df78de12fcd7803a7123558a3972bb9eb25e00ca",
            "config.json": "7519c9120f579e0f70db42200d9767cdaf9800a3389de556d40d93740978760a",
        },
        file_sizes={"model.safetensors": 441688, "config.json": 445},
        params=110100,
        gflops=0.0002196,
        recipe=Recipe(
            command=(
                "neurozoo train ffcl --arch ffcl_mlp --seed 0 --set variance_weight=10.0 --set covariance_weight=0.4 "
                "--dataset mnist --data-dir DATA --out RUN"
            ),
            epochs=30,
            images_seen=1800000,
            batch_size=128,
            precision="fp32 throughout, channels_last",
            hardware=HARDWARE,
        ),
        license=License(weights="mit"),
        paper="Gananath R, Improved Forward-Forward Contrastive Learning, arXiv 2405.03432 (2024)",
        metrics={
            "top1": 0.839,
            "nmi": 0.42572829137985996,
            "ece": 0.20333941015452148,
            "misclassification_auroc": 0.8861017626722141,
            "noise_sigma_0.05": 0.8331,
            "noise_sigma_0.1": 0.8211,
            "noise_sigma_0.2": 0.7366,
            "noise_sigma_0.3": 0.4434,
            "salt_and_pepper_severity_1": 0.8333,
            "salt_and_pepper_severity_2": 0.8237,
            "salt_and_pepper_severity_3": 0.8138,
            "salt_and_pepper_severity_4": 0.7956,
            "salt_and_pepper_severity_5": 0.7733,
            "blur_severity_1": 0.8422,
            "blur_severity_2": 0.8511,
            "blur_severity_3": 0.852,
            "blur_severity_4": 0.851,
            "blur_severity_5": 0.8483,
            "jpeg_severity_1": 0.838,
            "jpeg_severity_2": 0.8369,
            "jpeg_severity_3": 0.8365,
            "jpeg_severity_4": 0.8381,
            "jpeg_severity_5": 0.8383,
            "contrast_severity_1": 0.8387,
            "contrast_severity_2": 0.8144,
            "contrast_severity_3": 0.7742,
            "contrast_severity_4": 0.6916,
            "contrast_severity_5": 0.5054,
        },
        headline="noise_sigma_0.1",
        baseline="baseline-mlp-mnist",
        int8_metrics={"top1": 0.8383},
        description="neurozoo's variant, not the paper: FFCL with VICReg variance/covariance terms on each hidden code (weights 10 / 0.4, chosen on a validation split), otherwise the paper's recipe and budget (seed 0 of 3)",
    ),
)


@hookimpl
def register_checkpoints(register):
    for record in CHECKPOINTS:
        register(record)
