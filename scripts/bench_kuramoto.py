"""The kuramoto training step: the library's implementation against the faster candidates, in one run.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_kuramoto.py --data-dir ../shared/data

Per arch (komplexnet, komplexnet_fb), one engine gradient step (forward and backward of the
kuramoto method's loss; float32, as KomplexNet declares; channels_last, the engine's default) on
the same real batch of ``multimnist_o25`` (batch 256, T = 15). The variants:

- ``library``: the plugin as it is (two coupling convolutions per Kuramoto step, on b cos and
  b sin; three calls of the real map f in every complex layer; two feedback transposed convs);
- ``one_call``: each of those as one call on the parts stacked along the batch;
- ``fft``: both coupling convolutions through the FFT of b exp(i phi) (the kernel is real, so
  K * (b cos) and K * (b sin) are the real and imaginary parts of one complex correlation; on
  40 x 40 transforms ~2 MFLOP per image against ~22 MFLOP direct);
- ``compiled``: the library's coupling step under ``torch.compile`` (the elementwise work and
  the global sums fused around the convolutions); its first call, the compilation, is timed apart;
- ``mixed`` (at ``--mixed-batch``): the coupling convolution's operands in bfloat16, phases, sums
  and the update in float32. On a CPU without native bf16 (AVX2 only, as here) bf16 convolutions
  run about 10x slower than float32, so it is timed at a small batch only.

The candidates live here, not in the library: none was adopted (plugins/kuramoto/README.md,
"Step time", has the figures and the reasons).

The variants run interleaved, round after round, from the same weights and random draws. Step
time is the process's CPU time: the machine is shared, and wall time (printed beside it) mostly
measures the other jobs. The speed-up is the ratio of the medians; the per-round ratios are
printed too. ``conv floor`` is the CPU time of the step's coupling convolutions alone (2 T forward
and backward at the batch, random data): no change outside them can make a step faster than that.

Gradient agreement: the relative L2 difference of each variant's gradient to the library's (all
parameters together, and the worst tensor); "exact" means below 1e-5. And each variant against
float64 with ``neurozoo.training.fidelity`` at ``--fidelity-batch`` (float64 convolutions are
slow): 1 - cosine of the worst tensor and the range of the norm ratios; the test passes at
cosine >= 0.99 and norm ratio in [0.9, 1.1].
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import neurozoo
from neurozoo.training.engine import build_engine
from neurozoo.training.fidelity import gradient_fidelity
from neurozoo_plugins.kuramoto.complex_layers import ComplexLayer, stable_polar
from neurozoo_plugins.kuramoto.kuramoto import FeedbackCoupling, KuramotoCoupling, phase_pull
from neurozoo_plugins.kuramoto.method import KuramotoMethod

DATASET = "multimnist_o25"
EXACT = 1e-5


def one_call_local_sums(self, b_cos, b_sin):
    local = F.conv2d(torch.cat((b_cos, b_sin)), self.kernel, padding=self.kernel.shape[-1] // 2)
    return local.chunk(2)


def one_call_rule(self, magnitude, cos, sin):
    parts = torch.stack((magnitude * cos, magnitude * sin, magnitude)).flatten(0, 1)
    re, im, rate = self.f(parts).unflatten(0, (3, -1))
    modulus, out_cos, out_sin = stable_polar(re, im)
    return 0.5 * modulus + 0.5 * rate, out_cos, out_sin


def one_call_from_conv(self, cos, sin, m, m_cos, m_sin):
    b = torch.tanh(m)
    padding = self.conv_kernel.shape[-1] // 2
    up = F.conv_transpose2d(torch.stack((b * m_cos, b * m_sin)).flatten(0, 1), self.conv_kernel, stride=2,
                            padding=padding, output_padding=1)
    up_cos, up_sin = up.unflatten(0, (2, -1))
    return phase_pull(cos, sin, up_cos, up_sin)


def fft_size(n: int) -> int:
    """The smallest length >= n whose prime factors are 2, 3 and 5 (fast FFT lengths)."""
    while True:
        rest = n
        for factor in (2, 3, 5):
            while rest % factor == 0:
                rest //= factor
        if rest == 1:
            return n
        n += 1


def fft_correlate(kernel: torch.Tensor, real: torch.Tensor, imag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``F.conv2d(x, kernel, padding=k // 2)`` of x = ``real`` and x = ``imag`` (N, C, H, W), through
    the FFT of real + i imag (``kernel`` is real, so the parts stay apart). Zero padding to a
    length >= H + k // 2 keeps the circular wrap out of the H x W that is returned."""
    height, width = real.shape[-2:]
    half = kernel.shape[-1] // 2
    size = (fft_size(height + half), fft_size(width + half))
    pad = (0, size[1] - width, 0, size[0] - height)
    signal = torch.fft.fft2(torch.complex(F.pad(real.contiguous(), pad), F.pad(imag.contiguous(), pad)))
    # conv2d correlates: out[y] = sum_d K[d + half] x[y + d], the conjugate spectrum of K centred at 0
    centred = torch.roll(F.pad(kernel, (0, size[1] - kernel.shape[-1], 0, size[0] - kernel.shape[-2])),
                         shifts=(-half, -half), dims=(-2, -1))
    spectrum = torch.fft.fft2(centred).conj()  # (out, in, size)
    # channel mixing per frequency, one input channel at a time: a batched matmul would need two
    # transposes of the (N, C, size) spectra, which cost more than the products
    mixed = spectrum[:, 0] * signal[:, :1]
    for channel in range(1, signal.shape[1]):
        mixed = mixed + spectrum[:, channel] * signal[:, channel:channel + 1]
    out = torch.fft.ifft2(mixed)[..., :height, :width]
    return out.real, out.imag


def fft_correlate_sums(self, b_cos, b_sin):
    return fft_correlate(self.kernel, b_cos, b_sin)


compiled_increment = torch.compile(KuramotoCoupling.increment, dynamic=False)


def mixed_local_sums(self, b_cos, b_sin):
    if b_cos.dtype != torch.float32:  # the float64 pass of the fidelity test stays float64
        return KuramotoCoupling.local_sums(self, b_cos, b_sin)
    kernel, padding = self.kernel.bfloat16(), self.kernel.shape[-1] // 2
    return (F.conv2d(b_cos.bfloat16(), kernel, padding=padding).float(),
            F.conv2d(b_sin.bfloat16(), kernel, padding=padding).float())


VARIANTS = {
    "library": {},
    "one_call": {KuramotoCoupling: {"local_sums": one_call_local_sums}, ComplexLayer: {"rule": one_call_rule},
                 FeedbackCoupling: {"_from_conv": one_call_from_conv}},
    "fft": {KuramotoCoupling: {"local_sums": fft_correlate_sums}},
    "compiled": {KuramotoCoupling: {"increment": compiled_increment}},
    "mixed": {KuramotoCoupling: {"local_sums": mixed_local_sums}},
}


def use_variant(model, name):
    """Make ``model``'s modules run the methods of variant ``name`` (subclasses: same state, same names)."""
    for module in model.modules():
        for base, methods in VARIANTS[name].items():
            if isinstance(module, base):
                cls = type(module)
                module.__class__ = type(f"{name.title()}{cls.__name__}", (cls,), methods)


def real_batch(data_dir, size):
    data = neurozoo.get_dataset(DATASET).load("test", root=data_dir, size=size)
    return tuple(torch.stack(parts) for parts in zip(*(data[i] for i in range(size))))


def timed(fn, seed):
    torch.manual_seed(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def conv_floor(batch_size, timesteps, kernel_size=13, channels=8, size=32):
    """CPU seconds of the step's coupling convolutions alone: 2 T forward and backward, channels_last."""
    inputs = [torch.randn(batch_size, channels, size, size).contiguous(memory_format=torch.channels_last)
              .requires_grad_() for _ in range(2 * timesteps)]
    kernel = torch.randn(channels, channels, kernel_size, kernel_size).contiguous(
        memory_format=torch.channels_last).requires_grad_()

    def run():
        total = sum(F.conv2d(x, kernel, padding=kernel_size // 2).sum() for x in inputs)
        total.backward()

    return timed(run, 0)[0]


def conv_rate(batch_size, channels=8, size=32, kernel_size=13, repeats=5):
    """GFLOP/s (of CPU time, best of ``repeats``) of one forward coupling convolution at the batch,
    and of a 1024^3 ``torch.mm``: how close the convolution runs to this core's matrix-multiply rate."""
    x = torch.randn(batch_size, channels, size, size).contiguous(memory_format=torch.channels_last)
    kernel = torch.randn(channels, channels, kernel_size, kernel_size).contiguous(memory_format=torch.channels_last)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    cases = {
        "conv": (lambda: F.conv2d(x, kernel, padding=kernel_size // 2),
                 2 * batch_size * channels * size * size * channels * kernel_size ** 2),
        "mm": (lambda: a @ b, 2 * 1024 ** 3),
    }
    rates = {}
    for name, (fn, flops) in cases.items():
        fn()
        rates[name] = flops / min(timed(fn, 0)[0] for _ in range(repeats)) / 1e9
    return rates["conv"], rates["mm"]


def grads_of(engine):
    return {name: p.grad.detach().double().clone() for name, p in engine.net.named_parameters() if p.grad is not None}


def relative_difference(grads, reference):
    total = torch.cat([(grads[n] - reference[n]).flatten() for n in reference]).norm()
    worst = max(((grads[n] - reference[n]).norm() / reference[n].norm()).item() for n in reference
                if reference[n].norm() > 0)
    return (total / torch.cat([g.flatten() for g in reference.values()]).norm()).item(), worst


def compare(arch, names, batch, rounds, timesteps, fidelity_batch):
    trainer = KuramotoMethod(timesteps=timesteps)
    engines = {n: build_engine("kuramoto", arch, DATASET, trainer=trainer, device=torch.device("cpu")) for n in names}
    weights = engines[names[0]].net.state_dict()
    for name, engine in engines.items():
        engine.net.load_state_dict(weights)  # the same weights for every variant
        use_variant(engine.net, name)
        engine.train_mode()
        cpu, wall = timed(lambda: engine.gradients(batch), 0)  # warm-up (the compilation, if any)
        print(f"  {name:8s} first step {cpu:.2f} s CPU ({wall:.1f} s wall)", flush=True)
    cpu = {n: [] for n in names}
    wall = {n: [] for n in names}
    for r in range(rounds):
        for name, engine in engines.items():
            c, w = timed(lambda: engine.gradients(batch), 1)
            cpu[name].append(c)
            wall[name].append(w)
        print(f"  round {r + 1}: " + ", ".join(f"{n} {cpu[n][-1]:.2f} s CPU ({wall[n][-1]:.1f} s wall)" for n in names),
              flush=True)
    grads = {n: grads_of(e) for n, e in engines.items()}
    base = names[0]
    for name in names:
        print(f"  {name:8s} CPU s/step median {statistics.median(cpu[name]):.2f} (min {min(cpu[name]):.2f}), "
              f"wall median {statistics.median(wall[name]):.1f}")
    for name in names[1:]:
        ratio = statistics.median(cpu[base]) / statistics.median(cpu[name])
        rounds_text = ", ".join(f"{a / b:.2f}" for a, b in zip(cpu[base], cpu[name]))
        total, worst = relative_difference(grads[name], grads[base])
        verdict = "exact" if total < EXACT else "not exact"
        print(f"  {name} vs {base}: speed-up {ratio:.2f}x (per round {rounds_text}); gradient relative difference "
              f"{total:.2e} (worst tensor {worst:.2e}): {verdict} (< {EXACT:g})")
    small = tuple(t[:fidelity_batch] for t in batch)
    for name in names if fidelity_batch else ():
        report = gradient_fidelity(engines[name].net, trainer, small, precision="fp32")
        worst = report.worst()
        ratios = [g.norm_ratio for g in report.compared()]
        verdict = "passes" if not report.failures() else f"FAILS ({', '.join(g.name for g in report.failures())})"
        print(f"  {name:8s} vs float64 at batch {len(small[0])}: 1 - min cosine {1 - worst.cosine:.1e} "
              f"({worst.name}), norm ratio {min(ratios):.4f}..{max(ratios):.4f}: {verdict}", flush=True)
    return statistics.median(cpu[base])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--archs", default="komplexnet,komplexnet_fb", help='"": the convolution rate only')
    parser.add_argument("--variants", default="one_call,fft,compiled",
                        help='compared with the library at --batch ("": the library alone)')
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timesteps", type=int, default=15)
    parser.add_argument("--fidelity-batch", type=int, default=32, help="0: skip the check against float64")
    parser.add_argument("--mixed-batch", type=int, default=16, help="0: skip the mixed policy")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), batch {args.batch}, T = {args.timesteps}, "
          f"{args.rounds} rounds; times are CPU seconds of this process")
    conv, mm = conv_rate(args.batch)
    print(f"one forward coupling convolution at batch {args.batch}: {conv:.0f} GFLOP/s, {conv / mm:.0%} of a 1024^3 "
          f"torch.mm ({mm:.0f} GFLOP/s)")
    archs = [a for a in args.archs.split(",") if a]
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; choose from {', '.join(sorted(VARIANTS))} or give \"\"")
    if not archs:
        return
    batch = real_batch(args.data_dir, args.batch)
    floor = conv_floor(args.batch, args.timesteps)
    for arch in archs:
        print(f"{arch}, batch {args.batch}:")
        step = compare(arch, ["library", *variants], batch, args.rounds, args.timesteps,
                       args.fidelity_batch)
        print(f"  conv floor {floor:.2f} s CPU: {floor / step:.0%} of the library's step, so at most "
              f"{step / floor:.2f}x from any change outside the coupling convolutions")
        if args.mixed_batch:
            print(f"{arch}, batch {args.mixed_batch}:")
            compare(arch, ["library", "mixed"], tuple(t[:args.mixed_batch] for t in batch), args.rounds,
                    args.timesteps, args.mixed_batch)


if __name__ == "__main__":
    main()
