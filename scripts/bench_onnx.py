"""Inference speed of ResNet-18 (CIFAR-10): torch eager fp32 vs onnxruntime fp32 vs onnxruntime int8.

    python scripts/bench_onnx.py [--checkpoint RUN_OR_FOLDER] [--data-dir ../shared/data] [--json FILE]

One run measures, on this CPU:
- images/s of each engine at batch 1 and 64: ``--rounds`` rounds, each engine in turn for
  ``--seconds`` per round (interleaved, so load changes on a shared machine hit all engines alike);
  images/s is the median over rounds, and each speed-up is the median of the per-round ratios
  (the two engines of a ratio ran back to back, under the same load). The load average before and
  after is printed. Every engine runs on ``--threads`` intra-op threads (default: every
  usable core; on a busy shared machine ``--threads 1`` is the steadier comparison).
- the int8 top-1 drop vs fp32 on the CIFAR-10 test split (``--held-out`` images, default all 10,000),
  through ``neurozoo.export_onnx``. Meaningful for a trained ``--checkpoint`` only; without one the
  weights are random and the drop is printed but flagged.
- achieved GFLOP/s and the fraction of this CPU's fp32 peak it is.

FLOPs per image: ``torch.utils.flop_counter.FlopCounterMode`` over one eager forward pass. It counts
2 FLOPs per multiply-accumulate of convolutions and matrix products (``aten.convolution``, ``aten.mm``,
``aten.addmm``) and nothing for elementwise ops (BatchNorm, ReLU, add), which are <1% of the work.
The int8 engine does the same work in integer ops; its "GFLOP/s" is that fp32-equivalent rate.

fp32 peak = cores used x clock x FP32 FLOPs per cycle per core:
- cores used: ``--threads``, at most the physical cores (``lscpu`` "Core(s) per socket" x
  "Socket(s)", and at most the usable ones, ``os.sched_getaffinity``).
- clock: measured, because ``/proc/cpuinfo`` "cpu MHz" is the nominal clock the VM reports (2596 MHz
  here) while the cores boost above it (the fp32 rates measured here exceed the nominal peak). A C
  loop of dependent integer adds (1 cycle each on every x86 core since the P6) is compiled with
  ``cc`` and timed, best of 20 x 2e8 adds, before and after each timing round. Sharing a core with
  other processes can only lower a reading, so the highest reading (or the cpuinfo clock, if higher)
  counts. Without a C compiler the cpuinfo clock is used.
- FLOPs per cycle: AVX-512 FMA. AMD Zen 4 (``AuthenticAMD``, family 25 with avx512f) executes 512-bit
  FMAs on two 256-bit FMA pipes: 2 pipes x 8 fp32 lanes x 2 FLOPs = 32 (AMD Software Optimization
  Guide for Family 19h). Intel server cores with two 512-bit FMA units: 2 x 16 x 2 = 64. Override with
  ``--flops-per-cycle``. Checked in the same run: a C loop of 12 independent 512-bit FMA chains on one
  core (``FMA_PROBE``) gives the FLOPs per cycle the core really sustains at the measured clock.

"GFLOP/s" is the nominal count above divided by the time. Convolution algorithms that need fewer
multiplications than direct convolution (Winograd-style, which the engines pick for some 3x3 layers)
can make it approach or pass 100% of the FMA peak.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch.utils.flop_counter import FlopCounterMode

import neurozoo
from neurozoo.export import INPUT_NAME, export_onnx

BATCHES = (1, 64)


CLOCK_PROBE = r"""
#include <stdio.h>
#include <time.h>
int main(void) {
    double best = 0;
    for (int round = 0; round < 20; round++) {
        struct timespec start, end;
        unsigned long loops = 20000000UL, x = 0;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (unsigned long i = 0; i < loops; i++)  /* 10 dependent adds: 10 cycles per loop */
            __asm__ volatile("add $1,%0\n add $1,%0\n add $1,%0\n add $1,%0\n add $1,%0\n"
                             "add $1,%0\n add $1,%0\n add $1,%0\n add $1,%0\n add $1,%0" : "+r"(x));
        clock_gettime(CLOCK_MONOTONIC, &end);
        double seconds = (end.tv_sec - start.tv_sec) + 1e-9 * (end.tv_nsec - start.tv_nsec);
        if (10.0 * loops / seconds > best) best = 10.0 * loops / seconds;
    }
    printf("%.1f\n", best / 1e6);
    return 0;
}
"""


FMA_PROBE = r"""
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
int main(void) {
    __m512 acc[12], scale = _mm512_set1_ps(0.999999f), shift = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < 12; k++) acc[k] = _mm512_set1_ps((float)k);
    double best = 0;
    for (int round = 0; round < 10; round++) {
        struct timespec start, end;
        long loops = 5000000;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (long i = 0; i < loops; i++)  /* 12 independent chains hide the FMA latency */
            for (int k = 0; k < 12; k++) acc[k] = _mm512_fmadd_ps(acc[k], scale, shift);
        clock_gettime(CLOCK_MONOTONIC, &end);
        double seconds = (end.tv_sec - start.tv_sec) + 1e-9 * (end.tv_nsec - start.tv_nsec);
        if (loops * 12.0 * 16 * 2 / seconds > best) best = loops * 12.0 * 16 * 2 / seconds;
    }
    float sink = 0;
    for (int k = 0; k < 12; k++) sink += _mm512_reduce_add_ps(acc[k]);
    printf("%.1f %g\n", best / 1e9, sink);  /* printing sink keeps the loop alive */
    return 0;
}
"""


def run_probe(source: str, flags: list[str]) -> float | None:
    """Compile and run a C probe; its first printed number (None without a C compiler)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    with tempfile.TemporaryDirectory(prefix="cpu-probe-") as tmp:
        path, binary = Path(tmp) / "probe.c", Path(tmp) / "probe"
        path.write_text(source)
        subprocess.run([compiler, *flags, str(path), "-o", str(binary)], check=True)
        return float(subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.split()[0])


def measured_mhz() -> float | None:
    """The core clock now, from timing a chain of dependent adds."""
    return run_probe(CLOCK_PROBE, ["-O1"])


def cpu_peak(threads: int, flops_per_cycle: float | None, clock_mhz: float | None) -> dict:
    """fp32 peak GFLOP/s of the cores ``threads`` threads run on, with where each factor came from."""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout

    def field(name: str) -> str:
        match = re.search(rf"^{re.escape(name)}:\s*(.+)$", lscpu, re.MULTILINE)
        return match.group(1).strip() if match else ""

    cores = min(int(field("Core(s) per socket")) * int(field("Socket(s)")), len(os.sched_getaffinity(0)), threads)
    cpuinfo = Path("/proc/cpuinfo").read_text()
    nominal_mhz = float(re.search(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo, re.MULTILINE).group(1))
    mhz = max(clock_mhz or 0.0, nominal_mhz)
    flags = set(re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.MULTILINE).group(1).split())
    vendor, family = field("Vendor ID"), field("CPU family")
    if flops_per_cycle is None:
        if "avx512f" in flags:
            flops_per_cycle = 32 if vendor == "AuthenticAMD" and family == "25" else 64
        else:
            flops_per_cycle = 32 if "fma" in flags else 16
    return {
        "model": field("Model name"), "vendor": vendor, "family": family, "cores": cores,
        "nominal_mhz": nominal_mhz, "mhz": mhz, "clock": "measured" if mhz == clock_mhz else "/proc/cpuinfo",
        "avx512f": "avx512f" in flags, "flops_per_cycle": flops_per_cycle,
        "peak_gflops": cores * mhz / 1e3 * flops_per_cycle,
    }


def flops_per_image(model: torch.nn.Module, input_size) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(torch.rand(1, *input_size))
    return float(counter.get_total_flops())


def throughput(run, images: np.ndarray, seconds: float) -> float:
    """images/s of ``run(images)`` over at least ``seconds`` (after two warm-up calls)."""
    run(images)
    run(images)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or count == 0:
        run(images)
        count += 1
    return count * len(images) / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="trained resnet18 CIFAR-10 run or checkpoint folder (default: random weights)")
    parser.add_argument("--data-dir", help="dataset root (default: $NEUROZOO_DATA)")
    parser.add_argument("--held-out", type=int, default=10000, help="CIFAR-10 test images for the int8 accuracy drop")
    parser.add_argument("--calibration", type=int, default=256, help="train images for int8 calibration")
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per engine, batch and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="intra-op threads of every engine (default: every usable core)")
    parser.add_argument("--flops-per-cycle", type=float, help="fp32 FLOPs per cycle per core (default: from the CPU)")
    parser.add_argument("--out", help="folder for model.onnx / model.int8.onnx (default: a temporary folder)")
    parser.add_argument("--json", dest="json_path", help="write every figure here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads

    if args.checkpoint:
        model = neurozoo.load(args.checkpoint)
        if (model.config["arch"], model.config.get("dataset")) != ("resnet18", "cifar10"):
            parser.error(f"--checkpoint must be a resnet18 cifar10 model, got {model.config['arch']} "
                         f"{model.config.get('dataset')}")
    else:
        torch.manual_seed(0)
        model = neurozoo.create_model("resnet18", dataset="cifar10").eval()
    trained = bool(args.checkpoint)

    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
        out = Path(args.out or tmp)
        started = time.perf_counter()
        # a checkpoint by path, so the metadata records the sha256 of its model.safetensors
        report = export_onnx(args.checkpoint or model, out, int8=True, data_dir=args.data_dir,
                             calibration_size=args.calibration, held_out_size=args.held_out,
                             max_int8_drop_pp=None)  # the drop is a figure of this benchmark, not a gate
        export_seconds = time.perf_counter() - started
        print(report.summary())
        sessions = {
            name: onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            for name, path in (("onnxruntime fp32", report.fp32_path), ("onnxruntime int8", report.int8_path))
        }

        def torch_eager(images: np.ndarray):
            with torch.inference_mode():
                return model(torch.from_numpy(images))

        engines = {"torch eager fp32": torch_eager}
        for name, session in sessions.items():
            engines[name] = lambda images, s=session: s.run(None, {INPUT_NAME: images})

        rng = np.random.default_rng(0)
        inputs = {b: rng.random((b, *model.config["input_size"]), dtype=np.float32) for b in BATCHES}
        rounds: dict[tuple[str, int], list[float]] = {(e, b): [] for e in engines for b in BATCHES}
        clocks = [measured_mhz()]
        load = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            for batch in BATCHES:
                for name, run in engines.items():
                    rounds[(name, batch)].append(throughput(run, inputs[batch], args.seconds))
            clocks.append(measured_mhz())
        load.append(os.getloadavg()[0])

    rate = {key: statistics.median(values) for key, values in rounds.items()}
    flops = flops_per_image(model, model.config["input_size"])
    peak = cpu_peak(args.threads, args.flops_per_cycle, None if None in clocks else max(clocks))
    fma_gflops = run_probe(FMA_PROBE, ["-O3", "-mavx512f"]) if peak["avx512f"] else None
    fma_clock = measured_mhz()
    print(f"\nCPU: {peak['model']} ({peak['vendor']} family {peak['family']}), {peak['cores']} core(s) used x "
          f"{peak['mhz']:.0f} MHz ({peak['clock']}; readings {clocks}; cpuinfo {peak['nominal_mhz']:.0f}) "
          f"x {peak['flops_per_cycle']:g} fp32 FLOPs/cycle = {peak['peak_gflops']:.0f} GFLOP/s peak")
    if fma_gflops is not None:
        print(f"check: 512-bit FMA loop on one core: {fma_gflops:.1f} GFLOP/s at {fma_clock:.0f} MHz = "
              f"{fma_gflops / fma_clock * 1e3:.1f} fp32 FLOPs/cycle")
    print(f"ResNet-18 (CIFAR stem) at {'x'.join(map(str, model.config['input_size']))}: "
          f"{flops / 1e9:.3f} GFLOP per image (FlopCounterMode)")
    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, {args.threads} threads each\n")
    print(f"{'engine':18s} {'batch':>5s} {'images/s':>10s} {'GFLOP/s':>8s} {'of peak':>8s}   rounds (images/s)")
    figures = []
    for (name, batch), value in rate.items():
        gflops = value * flops / 1e9
        figures.append({"engine": name, "batch": batch, "images_per_s": value, "gflops": gflops,
                        "fraction_of_peak": gflops / peak["peak_gflops"], "rounds": rounds[(name, batch)]})
        print(f"{name:18s} {batch:5d} {value:10.1f} {gflops:8.1f} {100 * gflops / peak['peak_gflops']:7.1f}%   "
              + ", ".join(f"{v:.1f}" for v in rounds[(name, batch)]))

    def ratio(fast: str, slow: str, batch: int) -> float:
        return statistics.median(f / s for f, s in zip(rounds[(fast, batch)], rounds[(slow, batch)]))

    ratios = {
        "onnxruntime fp32 / torch eager fp32, batch 1 (target >= 1.5)": ratio("onnxruntime fp32", "torch eager fp32", 1),
        "onnxruntime fp32 / torch eager fp32, batch 64": ratio("onnxruntime fp32", "torch eager fp32", 64),
        "onnxruntime int8 / onnxruntime fp32, batch 1": ratio("onnxruntime int8", "onnxruntime fp32", 1),
        "onnxruntime int8 / onnxruntime fp32, batch 64 (target >= 1.3)": ratio("onnxruntime int8", "onnxruntime fp32", 64),
    }
    print()
    for label, value in ratios.items():
        print(f"{label}: {value:.2f}x")
    print(f"load average (1 min) before / after timing: {load[0]:.1f} / {load[1]:.1f}")
    drop_note = "" if trained else "  (RANDOM WEIGHTS: not a meaningful accuracy; pass --checkpoint)"
    print(f"int8 top-1 drop on {report.held_out_images} CIFAR-10 test images: {report.accuracy_drop_pp:+.2f} pp "
          f"(fp32 {100 * report.fp32_accuracy:.2f}%, int8 {100 * report.int8_accuracy:.2f}%; target <= 1 pp){drop_note}")
    print(f"export + int8 calibration + held-out check: {export_seconds:.0f} s")

    if args.json_path:
        Path(args.json_path).write_text(json.dumps({
            "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
            "checkpoint": args.checkpoint, "trained": trained, "threads": args.threads,
            "cpu": {**peak, "clock_readings_mhz": clocks, "fma_probe_gflops": fma_gflops,
                    "fma_probe_mhz": fma_clock},
            "flops_per_image": flops,
            "throughput": figures, "ratios": ratios, "load_average_before_after": load,
            "int8": {"held_out_images": report.held_out_images, "calibration_images": report.calibration_images,
                     "fp32_accuracy": report.fp32_accuracy, "int8_accuracy": report.int8_accuracy,
                     "accuracy_drop_pp": report.accuracy_drop_pp, "agreement": report.int8_agreement},
            "fp32_max_abs_diff": report.fp32_max_abs_diff,
            "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
