"""Checks python/advmix_torch.py against the trainer, for the Rust tests.

    python loader_check.py logits CHECKPOINT INPUT OUTPUT
        INPUT holds `x`, images in [0,1] (NCHW); OUTPUT receives `logits`
        (float32) from advmix_torch.load(CHECKPOINT), which normalizes itself.

    python loader_check.py pgd CHECKPOINT POINTS --eps E --step S --steps K --seed N
        POINTS holds `x` (float32 images in [0,1]) and `y` (int64 labels).
        Runs L∞ PGD with PyTorch autograd in eval mode and prints one JSON line:
        {"n": ..., "clean_acc": ..., "robust_acc": ...}

Only the loaded model is under test: both commands go through
advmix_torch.load, so the metadata (normalization, architecture) is what the
trainer wrote, not what the caller passes.
"""

import argparse
import json
import os
import sys

import safetensors.torch
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))

import advmix_torch  # noqa: E402

BATCH = 500


def logits(args):
    model = advmix_torch.load(args.checkpoint)
    x = safetensors.torch.load_file(args.input)["x"]
    with torch.no_grad():
        out = model(x)
    safetensors.torch.save_file({"logits": out.float().contiguous()}, args.output)


def project(x, delta, eps):
    # Back into the ε-ball, then into [0,1]: the trainer's `pgd::project`.
    return (x + delta.clamp(-eps, eps)).clamp(0.0, 1.0) - x


def pgd_attack(model, x, y, eps, step, steps):
    # The random start draws rand*2-1 as the trainer does, though the streams
    # differ (libtorch vs torch), so only the accuracies are comparable.
    delta = project(x, (torch.rand_like(x) * 2 - 1) * eps, eps)
    for _ in range(steps):
        delta.requires_grad_(True)
        # Summed, so a point's gradient does not depend on the batch size.
        loss = F.cross_entropy(model(x + delta), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, delta)
        delta = project(x, delta.detach() + step * grad.sign(), eps)
    return (x + delta).detach()


def pgd(args):
    torch.manual_seed(args.seed)
    model = advmix_torch.load(args.checkpoint)
    points = safetensors.torch.load_file(args.points)
    x, y = points["x"], points["y"]
    n = len(y)
    clean = robust = 0
    for start in range(0, n, BATCH):
        xb, yb = x[start : start + BATCH], y[start : start + BATCH]
        with torch.no_grad():
            clean += (model(xb).argmax(1) == yb).sum().item()
        adv = pgd_attack(model, xb, yb, args.eps, args.step, args.steps)
        # Counted over every point, as the trainer's evaluation does, not only
        # over the clean-correct ones.
        with torch.no_grad():
            robust += (model(adv).argmax(1) == yb).sum().item()
    print(json.dumps({"n": n, "clean_acc": clean / n, "robust_acc": robust / n}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("logits", help="logits of the loaded model")
    p.add_argument("checkpoint")
    p.add_argument("input")
    p.add_argument("output")
    p.set_defaults(run=logits)

    p = commands.add_parser("pgd", help="clean and PGD accuracy of the loaded model")
    p.add_argument("checkpoint")
    p.add_argument("points")
    p.add_argument("--eps", type=float, required=True)
    p.add_argument("--step", type=float, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.set_defaults(run=pgd)

    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
