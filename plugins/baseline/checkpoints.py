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
            "model.safetensors": "cf876fd71e07a07e5cd34b153c9834708534770a4294ad4c7e5f45c47aa12d8e",
            "config.json": "ab7414199605377eb3dc843509013324fe89e990cb76a688d576eaeb6fcba890",
        },
        file_sizes={"model.safetensors": 22398348, "config.json": 538},
        dtype="float16",
        params=11173962,
        gflops=1.111,
        recipe=Recipe(
            command=(
                "neurozoo train baseline --arch resnet18 --dataset cifar10 --epochs 15 --batch-size 128 --seed 0 "
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
            hardware="CPU: 2 cores of an Intel Xeon with AMX (VM), OMP_NUM_THREADS=2",
        ),
        license=License(weights="mit"),
        paper=f"{RESNET_PAPER}: the architecture",
        metrics={
            "top1": 0.9112,
            "nmi": 0.8126241581196556,
            "ece": 0.06685759720355272,
            "misclassification_auroc": 0.8910065753308181,
            "noise_sigma_0.05": 0.6643,
            "noise_sigma_0.1": 0.3219,
            "noise_sigma_0.2": 0.1889,
            "noise_sigma_0.3": 0.1557,
            "salt_and_pepper_severity_1": 0.8196,
            "salt_and_pepper_severity_2": 0.7299,
            "salt_and_pepper_severity_3": 0.6444,
            "salt_and_pepper_severity_4": 0.4847,
            "salt_and_pepper_severity_5": 0.3692,
            "blur_severity_1": 0.9098,
            "blur_severity_2": 0.8226,
            "blur_severity_3": 0.708,
            "blur_severity_4": 0.587,
            "blur_severity_5": 0.3934,
            "jpeg_severity_1": 0.8307,
            "jpeg_severity_2": 0.783,
            "jpeg_severity_3": 0.7666,
            "jpeg_severity_4": 0.7461,
            "jpeg_severity_5": 0.7152,
            "contrast_severity_1": 0.9026,
            "contrast_severity_2": 0.8641,
            "contrast_severity_3": 0.8134,
            "contrast_severity_4": 0.6872,
            "contrast_severity_5": 0.2354,
            "apgd_ce_linf_eps_2/255": 0.163,
        },
        metric_images={"apgd_ce_linf_eps_2/255": 1000},
        headline="noise_sigma_0.1",
        int8_metrics={"top1": 0.9114},
        description=(
            "arm A of the NM-Hebb comparison (scripts/zoo/nmhebb_resnet18_cifar10.sh, RECIPE_OPTIONS=\"--lr 0.2\"): 15 "
            "epochs of the baseline recipe at peak lr 0.2, the candidate chosen on the validation split by "
            "scripts/zoo/baseline_recipe_search.sh, on CIFAR-10's 50,000 training images minus a 10 % validation "
            "split (seed 0), best validation epoch (15), weights stored as float16"
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
    Checkpoint(
        method="baseline",
        arch="vgg16_std",
        dataset="cifar10",
        repo_id="neurozoo/baseline-vgg16_std-cifar10",
        files={
            "model.safetensors": "fc45068e75b2793ce845898f79acc56e238488270d1918a9baba46d970d00c23",
            "config.json": "85e43953657677fe7cede70fe88e6e5a39574d0cef2247cf8ea4bd9fa630aee8",
        },
        file_sizes={"model.safetensors": 29489460, "config.json": 539},
        dtype="float16",
        params=14724042,
        gflops=0.6264,
        recipe=Recipe(
            command=(
                "neurozoo train baseline --arch vgg16_std --epochs 20 --lr 1e-3 --set optimizer=adam "
                "--set weight_decay=0.0 --set label_smoothing=0.0 --set schedule=step --set 'milestones=[12,16]' "
                "--batch-size 128 --precision fp32 --seed 0 --val-fraction 0.1 --select last --eval-limit 0 "
                "--device cpu --dataset cifar10 --data-dir DATA --out RUN"
            ),
            epochs=20,
            images_seen=900000,
            batch_size=128,
            precision="fp32 throughout, channels_last",
            hardware=(
                "CPU: 2 cores of an Intel Xeon with AMX (VM), OMP_NUM_THREADS=2; epochs 1, 4 and 11-17 ran slower "
                "(50-80 img/s against ~100) while other jobs shared the cores"
            ),
        ),
        license=License(weights="mit"),
        paper=(
            "Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition, ICLR 2015 "
            "(arXiv 1409.1556): the architecture, in the CIFAR-10 form of the HaH authors' code "
            "(github.com/metehancekic/SparseStrongActivations)"
        ),
        metrics={
            "top1": 0.9052,
            "noise_sigma_0.05": 0.7093666666666667,
            "noise_sigma_0.1": 0.2710333333333333,
            "noise_sigma_0.2": 0.10499999999999998,
            "noise_sigma_0.3": 0.09993333333333332,
            "salt_and_pepper_severity_1": 0.7995,
            "salt_and_pepper_severity_2": 0.6809,
            "salt_and_pepper_severity_3": 0.5884,
            "salt_and_pepper_severity_4": 0.3865,
            "salt_and_pepper_severity_5": 0.2175,
            "blur_severity_1": 0.9044,
            "blur_severity_2": 0.8142,
            "blur_severity_3": 0.7133,
            "blur_severity_4": 0.6013,
            "blur_severity_5": 0.4158,
            "jpeg_severity_1": 0.8581,
            "jpeg_severity_2": 0.8201,
            "jpeg_severity_3": 0.8042,
            "jpeg_severity_4": 0.7862,
            "jpeg_severity_5": 0.764,
            "contrast_severity_1": 0.8977,
            "contrast_severity_2": 0.8562,
            "contrast_severity_3": 0.8064,
            "contrast_severity_4": 0.6816,
            "contrast_severity_5": 0.2293,
            "apgd_ce_linf_eps_2/255": 0.125,
            "apgd_ce_l2_eps_0.25": 0.161,
            "apgd_t_linf_eps_2/255": 0.105,
            "apgd_t_l2_eps_0.25": 0.137,
            "apgd_linf_eps_2/255": 0.103,
            "apgd_l2_eps_0.25": 0.137,
            "nonzero_fraction_layer1": 0.5014790283203125,
            "nonzero_fraction_layer2": 0.44179930267333983,
            "nonzero_fraction_layer3": 0.35043821716308593,
            "nonzero_fraction_layer4": 0.247966162109375,
            "nonzero_fraction_layer5": 0.199524267578125,
            "nonzero_fraction_layer6": 0.21285471801757813,
            "nonzero_fraction_layer7": 0.19042824096679686,
            "nonzero_fraction_layer8": 0.25970906982421876,
            "nonzero_fraction_layer9": 0.40962003173828127,
            "nonzero_fraction_layer10": 0.47486109619140626,
            "nonzero_fraction_layer11": 0.40296494140625,
            "nonzero_fraction_layer12": 0.395162841796875,
            "nonzero_fraction_layer13": 0.3326076171875,
            "topk_rest_ratio_layer1": 9.484768421394419,
            "topk_rest_ratio_layer2": 9.488134235721718,
            "topk_rest_ratio_layer3": 12.856676372404563,
            "topk_rest_ratio_layer4": 24.067848594259416,
            "topk_rest_ratio_layer5": 42.282884045625195,
            "topk_rest_ratio_layer6": 33.5784468177652,
            "topk_rest_ratio_layer7": 39.90572656509385,
            "topk_rest_ratio_layer8": 19.875520223019638,
            "topk_rest_ratio_layer9": 10.50534091316158,
            "topk_rest_ratio_layer10": 9.137429666662566,
            "topk_rest_ratio_layer11": 12.025207331452416,
            "topk_rest_ratio_layer12": 12.1414851958232,
            "topk_rest_ratio_layer13": 13.533942611585358,
            "snr_db_layer1": 4.346697791302151,
            "snr_db_layer2": 0.6500081164197944,
            "snr_db_layer3": 1.6477818984727077,
            "snr_db_layer4": 1.2495641950418517,
            "snr_db_layer5": 2.2359009471349873,
            "snr_db_layer6": -0.02471224412571254,
            "snr_db_layer7": 0.43162698191394516,
            "snr_db_layer8": 1.0912188846899886,
            "snr_db_layer9": 0.6200645275342943,
            "snr_db_layer10": 1.224156187998801,
            "snr_db_layer11": 2.076467988954438,
            "snr_db_layer12": 2.1305263979289593,
            "snr_db_layer13": 1.9240767181119751,
        },
        metric_images={
            "apgd_ce_linf_eps_2/255": 1000,
            "apgd_ce_l2_eps_0.25": 1000,
            "apgd_t_linf_eps_2/255": 1000,
            "apgd_t_l2_eps_0.25": 1000,
            "apgd_linf_eps_2/255": 1000,
            "apgd_l2_eps_0.25": 1000,
        },
        headline="noise_sigma_0.1",
        int8_metrics={"top1": 0.9047},
        description=(
            "the same-budget baseline of hah-hah_vgg16-cifar10 (scripts/zoo/hah_vgg16_cifar10.sh): the HaH "
            "authors' standard VGG-16 (conv without bias, ReLU, BatchNorm; input normalisation inside; head "
            "Linear 512 -> 10) with their recipe (Adam 1e-3, batch 128, crop + flip, lr x0.1 at epochs 12 and "
            "16), 20 of their 100 epochs on CIFAR-10's 50,000 training images minus a 10 % validation split "
            "(seed 0), last epoch, weights stored as float16"
        ),
    ),
)
