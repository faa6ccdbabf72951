"""PyTorch reference for the trainer's models (trainer/src/models).

The Rust models name their variables exactly as these modules do, so a
checkpoint written by the trainer loads here with strict=True. The tests in
trainer/tests/models.rs use the CLI to check that both compute the same logits:

    python reference_models.py MODEL CHECKPOINT.safetensors INPUT.safetensors OUTPUT.safetensors \
        [--depth D --widen K --classes C --mean m1,m2,m3 --std s1,s2,s3]

INPUT holds `x`, images in [0,1] (NCHW); OUTPUT receives `logits`, computed in
eval mode on (x - mean) / std.
"""

import argparse

import safetensors.torch
import torch
import torch.nn as nn
import torch.nn.functional as F


class PreActBlock(nn.Module):
    """As in Rice et al. 2020 (github.com/locuslab/robust_overfitting, preactresnet.py)."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet18(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.layer1 = self._make_layer(64, 1)
        self.layer2 = self._make_layer(128, 2)
        self.layer3 = self._make_layer(256, 2)
        self.layer4 = self._make_layer(512, 2)
        self.bn = nn.BatchNorm2d(512)
        self.linear = nn.Linear(512, num_classes)

    def _make_layer(self, planes, stride):
        layers = []
        for s in [stride, 1]:
            layers.append(PreActBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = self.conv1(x)
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.relu(self.bn(out))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


class BasicBlock(nn.Module):
    """The TRADES WideResNet block (github.com/yaodongyu/TRADES, wideresnet.py), dropRate 0."""

    def __init__(self, in_planes, out_planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, stride=1, padding=1, bias=False)
        self.equalInOut = in_planes == out_planes
        self.convShortcut = None
        if not self.equalInOut:
            self.convShortcut = nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)

    def forward(self, x):
        if self.equalInOut:
            out = F.relu(self.bn1(x))
            y = self.conv1(out)
            residual = x
        else:
            x = F.relu(self.bn1(x))
            y = self.conv1(x)
            residual = self.convShortcut(x)
        y = self.conv2(F.relu(self.bn2(y)))
        return residual + y


class NetworkBlock(nn.Module):
    def __init__(self, nb_layers, in_planes, out_planes, stride):
        super().__init__()
        self.layer = nn.Sequential(
            *[
                BasicBlock(in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1)
                for i in range(nb_layers)
            ]
        )

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    # Unlike the TRADES original, there is no unused `sub_block1`: its weights
    # never reach the output, and strict loading would demand them.
    def __init__(self, depth=34, num_classes=10, widen_factor=10):
        super().__init__()
        assert depth >= 10 and (depth - 4) % 6 == 0, "depth must be 6n+4 with n >= 1"
        n = (depth - 4) // 6
        channels = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(3, channels[0], 3, stride=1, padding=1, bias=False)
        self.block1 = NetworkBlock(n, channels[0], channels[1], 1)
        self.block2 = NetworkBlock(n, channels[1], channels[2], 2)
        self.block3 = NetworkBlock(n, channels[2], channels[3], 2)
        self.bn1 = nn.BatchNorm2d(channels[3])
        self.fc = nn.Linear(channels[3], num_classes)
        self.nChannels = channels[3]

    def forward(self, x):
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = F.relu(self.bn1(out))
        out = F.avg_pool2d(out, 8)
        return self.fc(out.view(-1, self.nChannels))


class SmallCnn(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(128)
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.adaptive_avg_pool2d(F.relu(self.bn3(self.conv3(x))), 1)
        return self.fc(torch.flatten(x, 1))


def build(name, depth, widen, classes):
    if name == "preact_resnet18":
        return PreActResNet18(classes)
    if name == "wide_resnet":
        return WideResNet(depth, classes, widen)
    if name == "small_cnn":
        return SmallCnn(classes)
    raise ValueError(f"unknown model {name}")


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
