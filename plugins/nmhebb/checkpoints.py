"""Checkpoint records of the nmhebb plugin (declarative; ``tests/test_checkpoint_records.py`` checks
every published record against its files, evaluation JSON and card in ``model_cards/<name>/``).

The published record was drafted by ``neurozoo record`` from arm B of the issue-22 comparison; the
rest of the paper's grid is registered as planned names.
"""

from neurozoo import Checkpoint, Claim, License, Recipe

PAPER = (
    "Miličević & Grbić, NM-Hebb: Coupling Local Hebbian Plasticity with Metric Learning for More "
    "Accurate and Interpretable CNNs, arXiv 2508.19896 (2025)"
)
# the paper's grid: five backbones with CIFAR-style stems on three datasets
PAPER_ARCHITECTURES = ("resnet18", "vgg11", "mobilenetv2", "efficientnetv2_s", "densenet121")
PAPER_DATASETS = ("cifar10", "cifar100", "tinyimagenet")

PUBLISHED = (
    Checkpoint(
        method="nmhebb",
        arch="resnet18",
        dataset="cifar10",
        repo_id="neurozoo/nmhebb-resnet18-cifar10",
        files={
            "model.safetensors": "8ebf41816081fa8fdfd267f45b2b05fc86f4ee5b0d31aa76641c9035f7760bdf",
            "config.json": "13aa5d7a1ac3b676d9d9992807b06400d547b5e2640840a2a41768ef4174e368",
        },
        file_sizes={"model.safetensors": 22398348, "config.json": 536},
        dtype="float16",
        params=11173962,
        gflops=1.111,
        recipe=Recipe(
            command=(
                "neurozoo train nmhebb --arch resnet18 --dataset cifar10 --epochs 15 --batch-size 128 --seed 0 "
                "--val-fraction 0.1 --select best --precision bf16 --eval-limit 0 --data-dir DATA --device cpu --lr 0.2 "
                "--out RUN"
            ),
            epochs=15,
            images_seen=675000,
            batch_size=128,
            precision=(
                "bf16 autocast of the forward pass with the stem conv in float32 (resnet18's precision policy), "
                "fp32 weights, gradients and optimiser state, channels_last"
            ),
            hardware=(
                "CPU: 2 cores of an Intel Xeon with AMX (VM), OMP_NUM_THREADS=2; stopped by SIGTERM in epoch 2 and "
                "resumed (resumes are exact), epoch 4 shared the cores with test runs"
            ),
        ),
        license=License(weights="mit"),
        paper=PAPER,
        metrics={
            "top1": 0.9101,
            "nmi": 0.8102505703595447,
            "ece": 0.0637907346650958,
            "misclassification_auroc": 0.8895327910157655,
            "noise_sigma_0.05": 0.6513,
            "noise_sigma_0.1": 0.2873,
            "noise_sigma_0.2": 0.1655,
            "noise_sigma_0.3": 0.1306,
            "salt_and_pepper_severity_1": 0.829,
            "salt_and_pepper_severity_2": 0.7312,
            "salt_and_pepper_severity_3": 0.6494,
            "salt_and_pepper_severity_4": 0.496,
            "salt_and_pepper_severity_5": 0.3639,
            "blur_severity_1": 0.9093,
            "blur_severity_2": 0.8266,
            "blur_severity_3": 0.7184,
            "blur_severity_4": 0.5885,
            "blur_severity_5": 0.3853,
            "jpeg_severity_1": 0.8237,
            "jpeg_severity_2": 0.7814,
            "jpeg_severity_3": 0.7665,
            "jpeg_severity_4": 0.7394,
            "jpeg_severity_5": 0.7113,
            "contrast_severity_1": 0.9048,
            "contrast_severity_2": 0.8635,
            "contrast_severity_3": 0.8147,
            "contrast_severity_4": 0.6885,
            "contrast_severity_5": 0.2613,
            "apgd_ce_linf_eps_2/255": 0.249,
        },
        metric_images={"apgd_ce_linf_eps_2/255": 1000},
        headline="noise_sigma_0.1",
        baseline="baseline-resnet18-cifar10",
        int8_metrics={"top1": 0.9094},
        claims=(
            Claim("top1", 0.02, 0.10, "abstract; METHODS.md: +2.0 to +10.0 pp top-1 on CIFAR-10 over the CE baseline"),
            Claim("nmi", 0.0, 0.15, "abstract: NMI up to +0.15 over the CE baseline"),
        ),
        description=(
            "arm B of the NM-Hebb comparison (scripts/zoo/nmhebb_resnet18_cifar10.sh, RECIPE_OPTIONS=\"--lr 0.2\"): "
            "NM-Hebb's defaults at the baseline's peak lr 0.2, 12 epochs of phase 1 (Hebbian) + 3 of phase 2 (pairs) on "
            "one continued one-cycle schedule, on CIFAR-10's 50,000 training images minus a 10 % validation split "
            "(seed 0), best validation epoch (15), weights stored as float16"
        ),
    ),
)
_published = {(c.arch, c.dataset) for c in PUBLISHED}

CHECKPOINTS = PUBLISHED + tuple(
    Checkpoint("nmhebb", arch, dataset,
               description=f"NM-Hebb {arch} on {dataset} (planned: not trained or published yet)")
    for dataset in PAPER_DATASETS
    for arch in PAPER_ARCHITECTURES
    if (arch, dataset) not in _published
)
