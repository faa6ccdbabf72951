"""PyTorch reference for the trainer's models (trainer/src/models).

The architectures live in python/advmix_torch.py, the loader users get; the
Rust models name their variables exactly as those modules do, so a checkpoint
written by the trainer loads there with strict=True. The tests in
trainer/tests/models.rs use this CLI to check that both compute the same logits:

    python reference_models.py MODEL CHECKPOINT.safetensors INPUT.safetensors OUTPUT.safetensors \
        [--depth D --widen K --classes C --mean m1,m2,m3 --std s1,s2,s3]

INPUT holds `x`, images in [0,1] (NCHW); OUTPUT receives `logits`, computed in
eval mode on (x - mean) / std.
"""

import argparse
import os
import sys

import safetensors.torch
import torch

# The architectures are defined once, in the user-facing loader, so the tests
# check the very code users load checkpoints with.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))

# The classes are re-exported for scripts that import them from here
# (bench/reference_step.py imports `build`).
from advmix_torch import (  # noqa: E402, F401
    BasicBlock,
    NetworkBlock,
    PreActBlock,
    PreActResNet18,
    SmallCnn,
    WideResNet,
    build_architecture,
)


def build(name, depth, widen, classes):
    return build_architecture(name, classes, depth=depth, widen_factor=widen)


def triple(text):
    values = [float(v) for v in text.split(",")]
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three comma-separated numbers, got {text!r}")
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=["preact_resnet18", "wide_resnet", "small_cnn"])
    parser.add_argument("checkpoint")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--depth", type=int, default=28)
    parser.add_argument("--widen", type=int, default=10)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--mean", type=triple, default=[0.0, 0.0, 0.0])
    parser.add_argument("--std", type=triple, default=[1.0, 1.0, 1.0])
    args = parser.parse_args()

    model = build(args.model, args.depth, args.widen, args.classes)
    model.load_state_dict(safetensors.torch.load_file(args.checkpoint), strict=True)
    model.eval()
    x = safetensors.torch.load_file(args.input)["x"]
    mean = torch.tensor(args.mean).view(1, 3, 1, 1)
    std = torch.tensor(args.std).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = model((x - mean) / std)
    safetensors.torch.save_file({"logits": logits.contiguous()}, args.output)


if __name__ == "__main__":
    main()
