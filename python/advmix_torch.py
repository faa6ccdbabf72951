"""Load advmix-trainer checkpoints into PyTorch.

    import advmix_torch
    model = advmix_torch.load("best.safetensors")
    logits = model(images)  # images in [0,1], NCHW

The model normalizes its input itself, as RobustBench models do, so it can be
handed to any attack library that works in [0,1] pixel space. What the
trainer recorded about the run (dataset, threat model, evaluations, the full
config) is on `model.advmix`. For a summary on the command line:

    python -m advmix_torch best.safetensors

Needs nothing but `torch` and `safetensors`: copy this file next to your code.
The architectures below are also the reference the trainer's own tests check
its models against (trainer/tests/python/reference_models.py).
"""

import argparse
import json
import sys

import safetensors
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "AdvmixModel",
    "BasicBlock",
    "NetworkBlock",
    "Normalize",
    "PreActBlock",
    "PreActResNet18",
    "SmallCnn",
    "WideResNet",
    "build_architecture",
    "load",
    "read_metadata",
]

METADATA_KEY = "advmix"
# The resume file carries optimizer state under this key instead, and no
# METADATA_KEY; it is for `advmix-trainer train --resume`, not for inference.
RESUME_KEY = "advmix.resume"

MODELS = ("preact_resnet18", "wide_resnet", "small_cnn")

# Per-channel statistics of each dataset's training split, as the trainer
# normalizes with (trainer/src/data). Checkpoints written before format 2 do
# not record them, so they are looked up here.
DATASET_NORMALIZATION = {
    "cifar10": ([0.4914, 0.4822, 0.4465], [0.2471, 0.2435, 0.2616]),
    "cifar100": ([0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762]),
    "digits": ([0.3051] * 3, [0.3762] * 3),
    "synthetic": ([0.5] * 3, [0.25] * 3),
}


# --- architectures ------------------------------------------------------------
# The trainer's models (trainer/src/models) name their variables exactly as
# these modules do, so its checkpoints load with strict=True. Renaming an
# attribute here breaks that.


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


def build_architecture(model, num_classes, depth=28, widen_factor=10):
    """The bare architecture by its trainer name (`config["model"]`).

    `depth` and `widen_factor` only matter for `wide_resnet`.
    """
    if model == "preact_resnet18":
        return PreActResNet18(num_classes)
    if model == "wide_resnet":
        return WideResNet(depth, num_classes, widen_factor)
    if model == "small_cnn":
        return SmallCnn(num_classes)
    raise _unknown_model(model)


def _unknown_model(model):
    return ValueError(
        f"unknown model {model!r}: this loader knows {', '.join(MODELS)}; "
        "the checkpoint may come from a newer advmix, whose advmix_torch.py would know it"
    )


# The layer whose output size is the number of classes. Its shape, not the
# metadata, decides num_classes: it is what the weights can actually produce.
_FINAL_WEIGHT = {"preact_resnet18": "linear.weight", "wide_resnet": "fc.weight", "small_cnn": "fc.weight"}


# --- the wrapped model ------------------------------------------------------


class Normalize(nn.Module):
    """`(x - mean) / std` per channel, in the trainer's order of operations.

    Two separate ops rather than a fused `x * a + b`, so that rounding matches
    the trainer (trainer/src/models/normalize.rs) bit for bit. The buffers are
    not persistent: they come from the metadata, and the trainer's state_dict
    has no entry for them.
    """

    def __init__(self, mean, std):
        super().__init__()
        # float64 metadata → float32 here, as the trainer rounds them.
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        return (x - self.mean) / self.std

    def extra_repr(self):
        def fmt(t):
            return "(" + ", ".join(f"{v:.6g}" for v in t.flatten().tolist()) + ")"

        return f"mean={fmt(self.mean)}, std={fmt(self.std)}"


class AdvmixModel(nn.Module):
    """An advmix-trained classifier: images in [0,1] (NCHW) → logits.

    `.normalize` is the input normalization, `.model` the architecture (whose
    state_dict is the checkpoint's), `.advmix` the checkpoint's metadata with
    the resolved keys described in `load`.
    """

    def __init__(self, model, normalize, advmix=None):
        super().__init__()
        self.normalize = normalize
        self.model = model
        self.advmix = advmix if advmix is not None else {}

    def forward(self, x):
        return self.model(self.normalize(x))


# --- loading ------------------------------------------------------------------


def _open(path):
    """(metadata, tensors) of a safetensors file, with errors that say what to do."""
    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except OSError:
        raise  # a missing or unreadable file already says so plainly
    except Exception as e:  # safetensors raises its own error type for a bad header
        raise ValueError(f"{path} is not a readable safetensors file ({e})") from e
    return metadata, tensors


def _raw_metadata(path, metadata):
    if METADATA_KEY not in metadata:
        if RESUME_KEY in metadata:
            raise ValueError(
                f"{path} is the trainer's resume file (resume.safetensors), which holds optimizer state for "
                "`advmix-trainer train --resume`; load best.safetensors or last.safetensors from the same "
                "directory instead"
            )
        raise ValueError(
            f"{path} has no '{METADATA_KEY}' metadata: it was not written by advmix-trainer; "
            "load a best.safetensors, last.safetensors or periodic checkpoint from a run's checkpoint directory"
        )
    try:
        raw = json.loads(metadata[METADATA_KEY])
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: its '{METADATA_KEY}' metadata is not JSON ({e}); the file is damaged") from e
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: its '{METADATA_KEY}' metadata is not a JSON object; the file is damaged")
    return raw


def _resolve(path, raw, state_dict):
    """The metadata with every format-2 key filled in, for old files too.

    Values a format-2 file records are kept; what an older file lacks is
    derived from its config, its dataset's known constants or the weights.
    """
    info = dict(raw)
    config = raw.get("config") or {}
    model = raw.get("model", config.get("model"))
    dataset = raw.get("dataset", config.get("dataset"))
    if model not in MODELS:
        raise ValueError(f"{path}: {_unknown_model(model)}")
    info["model"], info["dataset"] = model, dataset
    # Files from before the metadata had a version are format 1.
    info["format_version"] = raw.get("format_version", 1)

    final = _FINAL_WEIGHT[model]
    if final not in state_dict:
        raise ValueError(f"{path}: no '{final}' tensor, so these are not {model} weights; the file is damaged")
    info["num_classes"] = int(state_dict[final].shape[0])
    info.setdefault("class_names", None)

    given = raw.get("input") or {}
    if "mean" in given and "std" in given:
        mean, std = given["mean"], given["std"]
    elif dataset in DATASET_NORMALIZATION:
        mean, std = DATASET_NORMALIZATION[dataset]
    else:
        raise ValueError(
            f"{path}: it records no input normalization and its dataset {dataset!r} is not one this loader "
            f"knows ({', '.join(DATASET_NORMALIZATION)}); a newer advmix_torch.py may know it"
        )
    info["input"] = {
        "shape": list(given.get("shape", [3, 32, 32])),
        "range": list(given.get("range", [0.0, 1.0])),
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
    }

    if raw.get("threat_model") is not None:
        info["threat_model"] = dict(raw["threat_model"])
    elif "epsilon" in config:
        # The trainer only trains and attacks in L∞.
        info["threat_model"] = {"norm": "Linf", "epsilon": float(config["epsilon"])}
    else:
        info["threat_model"] = None
    info.setdefault("splits", None)
    info["evaluations"] = list(raw.get("evaluations") or [])
    return info


def read_metadata(path):
    """The resolved metadata of a checkpoint (what `load(path).advmix` holds)."""
    metadata, tensors = _open(path)
    return _resolve(path, _raw_metadata(path, metadata), tensors)


def load(path, device="cpu"):
    """An `AdvmixModel` in eval mode from a checkpoint written by advmix-trainer.

    `model(x)` takes images in [0,1], NCHW, and returns logits.
    `model.advmix` is the checkpoint's metadata (epoch, kind, model, dataset,
    method, advmix_version, config, ...) with these keys resolved for every
    checkpoint format, older ones included:

        format_version  int (1 for files from before it was recorded)
        num_classes     int, from the weights' final layer
        class_names     list of str, or None when not recorded
        input           {"shape": [3, 32, 32], "range": [0.0, 1.0], "mean": [...], "std": [...]}
        threat_model    {"norm": "Linf", "epsilon": float}, or None
        splits          {"train": int, "test": int}, or None when not recorded
        evaluations     list of {"attack", "n", "clean_acc", "robust_acc", ...}, maybe empty

    Raises ValueError, saying what to do, for a file that is not an advmix
    model checkpoint.
    """
    metadata, state_dict = _open(path)
    info = _resolve(path, _raw_metadata(path, metadata), state_dict)
    config = info.get("config") or {}
    model = info["model"]
    if model == "wide_resnet" and not ("depth" in config and "widen_factor" in config):
        raise ValueError(f"{path}: a wide_resnet whose config records no depth and widen_factor; the file is damaged")
    arch = build_architecture(model, info["num_classes"], config.get("depth", 28), config.get("widen_factor", 10))
    try:
        arch.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{path}: the weights do not fit {describe_model(info)} ({e})") from e
    net = AdvmixModel(arch, Normalize(info["input"]["mean"], info["input"]["std"]), info)
    return net.to(device).eval()


# --- command line -------------------------------------------------------------


def describe_model(info):
    config = info.get("config") or {}
    if info["model"] == "wide_resnet":
        return f"wide_resnet (WRN-{config.get('depth')}-{config.get('widen_factor')})"
    return info["model"]


def format_epsilon(epsilon):
    # Radii are usually chosen as n/255, and that is how papers quote them.
    n = epsilon * 255
    if abs(n - round(n)) < 1e-6:
        return f"{round(n)}/255 ({epsilon:.4f})"
    return f"{epsilon:.4g}"


def format_threat(threat):
    if not threat:
        return "not recorded"
    norm = {"Linf": "L∞"}.get(threat.get("norm"), threat.get("norm"))
    return f"{norm} ε = {format_epsilon(threat['epsilon'])}"


def _numbers(values):
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def format_evaluation(ev, threat):
    attack = ev.get("attack", "?")
    details = []
    if ev.get("steps") is not None:
        details.append(f"{ev['steps']} steps")
    if ev.get("step_size") is not None:
        details.append(f"step {format_epsilon(ev['step_size'])}")
    if ev.get("restarts") is not None:
        details.append(f"{ev['restarts']} restart{'s' if ev['restarts'] != 1 else ''}")
    # Only worth saying when it is not the checkpoint's own radius.
    if ev.get("epsilon") is not None and not (threat and abs(ev["epsilon"] - threat["epsilon"]) < 1e-9):
        details.append(f"ε = {format_epsilon(ev['epsilon'])}")
    if ev.get("epoch") is not None:
        details.append(f"epoch {ev['epoch']}")
    head = attack + (f" ({', '.join(details)})" if details else "")

    def pct(key):
        return f"{100 * ev[key]:.2f}%" if ev.get(key) is not None else "?"

    return f"{head} on {ev.get('n', '?')} points: clean {pct('clean_acc')}, robust {pct('robust_acc')}"


def summary(info):
    """A few lines describing a checkpoint, from its resolved metadata."""
    shown = 5
    names = info.get("class_names")
    classes = str(info["num_classes"])
    if names:
        classes += ": " + ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")
    inp = info["input"]
    lines = [
        ("model", describe_model(info)),
        ("dataset", str(info.get("dataset"))),
        ("classes", classes),
        ("input", f"{'×'.join(str(d) for d in inp['shape'])} in [{inp['range'][0]}, {inp['range'][1]}]"),
        ("normalization", f"mean {_numbers(inp['mean'])}, std {_numbers(inp['std'])} (done by the model)"),
        ("threat model", format_threat(info.get("threat_model"))),
        ("method", str(info.get("method"))),
        ("checkpoint", f"epoch {info.get('epoch')}, {info.get('kind')}"
         f" (advmix {info.get('advmix_version', '?')}, format {info['format_version']})"),
    ]
    evaluations = info["evaluations"]
    if not evaluations:
        lines.append(("evaluations", "none recorded"))
    for i, ev in enumerate(evaluations):
        lines.append(("evaluations" if i == 0 else "", format_evaluation(ev, info.get("threat_model"))))
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m advmix_torch",
        description="Summarize an advmix-trainer checkpoint (and check that it loads).",
    )
    parser.add_argument("checkpoint", help="a best/last/periodic .safetensors file written by advmix-trainer")
    args = parser.parse_args(argv)
    try:
        # A full load rather than read_metadata: the summary should only
        # describe a checkpoint that will actually load.
        info = load(args.checkpoint).advmix
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(args.checkpoint)
    print(summary(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
