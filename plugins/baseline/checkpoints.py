"""Checkpoint records of the baseline plugin (declarative; ``tests/test_checkpoint_records.py``
checks every record against its files, evaluation JSON and card in ``model_cards/<name>/``).

A record is drafted from its run folder by ``neurozoo record RUN --data-dir DATA --hardware ...
--license ... --headline FIGURE`` (every number measured from the files).
"""

from neurozoo import Checkpoint, License, Recipe

RESNET_PAPER = "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, CVPR 2016 (arXiv 1512.03385)"

CHECKPOINTS = (
    Checkpoint(
        method="baseline",
        arch="resnet18",
        dataset="cifar10",
        repo_id="neurozoo/baseline-resnet18-cifar10",
        files={
            "model.safetensors": "debd6f5fb9e179172e361494fcc9ba4a5c1cb9859949c98b6537149412e2b2f2",
            "config.json": "ab7414199605377eb3dc843509013324fe89e990cb76a688d576eaeb6fcba890",
        },
        file_sizes={"model.safetensors": 22398348, "config.json": 538},
        dtype="float16",
        params=11173962,
        gflops=1.111,
        recipe=Recipe(
            command=(
                "neurozoo train baseline --arch resnet18 --dataset cifar10 --epochs 15 --batch-size 128 --seed 0 "
                "--val-fraction 0.1 --select best --precision bf16 --eval-limit 0 --data-dir DATA --device cpu --out RUN"
            ),
            epochs=15,
            images_seen=675000,
            batch_size=128,
            precision=(
                "bf16 autocast of the forward pass with the stem conv in float32 (resnet18's precision policy), "
                "fp32 weights, gradients and optimiser state, channels_last"
            ),
            hardware=(
                "CPU: 2 cores of an Intel Xeon with AMX (VM), OMP_NUM_THREADS=2; epochs 1, 2 and 7 shared the cores "
                "with test runs"
            ),
        ),
        license=License(weights="mit"),
        paper=f"{RESNET_PAPER}: the architecture",
        metrics={
            "top1": 0.8981,
            "nmi": 0.7889178395650372,
            "ece": 0.06701957337707282,
            "misclassification_auroc": 0.886700841237291,
            "noise_sigma_0.05": 0.6884,
            "noise_sigma_0.1": 0.3118,
            "noise_sigma_0.2": 0.1588,
            "noise_sigma_0.3": 0.1338,
            "salt_and_pepper_severity_1": 0.8146,
            "salt_and_pepper_severity_2": 0.725,
            "salt_and_pepper_severity_3": 0.6392,
            "salt_and_pepper_severity_4": 0.4742,
            "salt_and_pepper_severity_5": 0.3421,
            "blur_severity_1": 0.896,
            "blur_severity_2": 0.8138,
            "blur_severity_3": 0.7114,
            "blur_severity_4": 0.5991,
            "blur_severity_5": 0.4142,
            "jpeg_severity_1": 0.8304,
            "jpeg_severity_2": 0.7907,
            "jpeg_severity_3": 0.7755,
            "jpeg_severity_4": 0.7634,
            "jpeg_severity_5": 0.7339,
            "contrast_severity_1": 0.8901,
            "contrast_severity_2": 0.8419,
            "contrast_severity_3": 0.7848,
            "contrast_severity_4": 0.6507,
            "contrast_severity_5": 0.2384,
        },
        headline="noise_sigma_0.1",
        int8_metrics={"top1": 0.8971},
        description=(
            "arm A of the NM-Hebb comparison (scripts/zoo/nmhebb_resnet18_cifar10.sh): 15 epochs of the baseline recipe "
            "on CIFAR-10's 50,000 training images minus a 10 % validation split (seed 0), best validation epoch (15), "
            "weights stored as float16"
        ),
    ),
    Checkpoint(
        method="baseline",
        arch="mlp",
        dataset="mnist",
        repo_id="neurozoo/baseline-mlp-mnist",
        files={
            "model.safetensors": "3ef620287de29732ad649207aa1a22b7d90b78aa7b5e1dbc947546abd9283f52",
            "config.json": "162c294a7ef3632814935320049ae61b7044f67383e336b0fdc9314ac3cee966",
        },
        file_sizes={"model.safetensors": 220880, "config.json": 488},
        params=55050,
        gflops=0.0001098,
        recipe=Recipe(
            command=(
                "neurozoo train baseline --arch mlp --arch-set 'hidden=[64,64]' --lr 1e-4 --set optimizer=adam "
                "--set schedule=constant --set weight_decay=0.0 --set label_smoothing=0.0 --precision fp32 --no-augment "
                "--seed 0 --dataset mnist --data-dir DATA --out RUN"
            ),
            epochs=30,
            images_seen=1800000,
            batch_size=128,
            precision="fp32 throughout, channels_last",
            hardware="CPU: 2-core AMD EPYC (Zen 4) VM shared with other jobs, OMP_NUM_THREADS=1",
        ),
        license=License(weights="mit"),
        paper="backprop twin of FFCL's 784-64-64-10 network (Gananath R, arXiv 2405.03432)",
        metrics={
            "top1": 0.97,
            "nmi": 0.8201580340185483,
            "ece": 0.003778220072388649,
            "misclassification_auroc": 0.9559780068728523,
            "noise_sigma_0.05": 0.9704,
            "noise_sigma_0.1": 0.9691,
            "noise_sigma_0.2": 0.9571,
            "noise_sigma_0.3": 0.9037,
            "salt_and_pepper_severity_1": 0.9684,
            "salt_and_pepper_severity_2": 0.9666,
            "salt_and_pepper_severity_3": 0.9639,
            "salt_and_pepper_severity_4": 0.958,
            "salt_and_pepper_severity_5": 0.9488,
            "blur_severity_1": 0.9695,
            "blur_severity_2": 0.9679,
            "blur_severity_3": 0.9671,
            "blur_severity_4": 0.9655,
            "blur_severity_5": 0.9608,
            "jpeg_severity_1": 0.9697,
            "jpeg_severity_2": 0.9694,
            "jpeg_severity_3": 0.9697,
            "jpeg_severity_4": 0.9695,
            "jpeg_severity_5": 0.9696,
            "contrast_severity_1": 0.9695,
            "contrast_severity_2": 0.9688,
            "contrast_severity_3": 0.9662,
            "contrast_severity_4": 0.9542,
            "contrast_severity_5": 0.8512,
        },
        headline="noise_sigma_0.1",
        int8_metrics={"top1": 0.9685},
        description="the FFCL network's backprop twin: one 784-64-64-10 MLP, Adam 1e-4, 30 epochs of full MNIST, fp32, no augmentation (seed 0 of 3)",
    ),
)
