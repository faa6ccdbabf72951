#!/usr/bin/env python3
"""The same training step as advmix's `step_throughput` example, in eager
PyTorch: same model definition (python/advmix_torch.py, via trainer/tests/python/reference_models.py),
same batch, same crop/flip on the device, same attack and loss, SGD with
momentum 0.9 and weight decay 5e-4. Prints one JSON line.

python bench/reference_step.py --method pgd_at --batch-size 128 --batches 10 --device cuda
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "trainer", "tests", "python"))
from reference_models import build  # noqa: E402

EPS, STEP, STEPS = 8 / 255, 2 / 255, 10
MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
STD = torch.tensor([0.2471, 0.2435, 0.2616]).view(1, 3, 1, 1)


def crop_flip(x, pad=4):
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n,), device=x.device)
    ox = torch.randint(0, 2 * pad + 1, (n,), device=x.device)
    rows = (oy[:, None] + torch.arange(h, device=x.device)[None, :])[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w, device=x.device)[None, :])[:, None, None, :]
    idx = torch.arange(n, device=x.device)[:, None, None, None]
    ch = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    out = padded[idx, ch, rows, cols]
    flip = torch.rand(n, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def project(x, delta):
    return (x + delta.clamp(-EPS, EPS)).clamp(0, 1) - x


def soft_ce_sum(logits, targets):
    return -(targets * F.log_softmax(logits, -1)).sum()


def pgd_at(model, x, y):
    delta = project(x, (torch.rand_like(x) * 2 - 1) * EPS)
    for _ in range(STEPS):
        delta.requires_grad_(True)
        loss = F.cross_entropy(model(x + delta), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, delta)
        delta = project(x, delta.detach() + STEP * grad.sign())
    return F.cross_entropy(model(x + delta), y)


def aom(model, x, y, classes=10):
    n = x.shape[0]
    perm = torch.randperm(n, device=x.device)
    xp, yo = x[perm], F.one_hot(y, classes).float()
    ypo = yo[perm]
    lam = torch.distributions.Dirichlet(torch.ones(n, 2, device=x.device)).sample()[:, 0]
    d = project(x, (torch.rand_like(x) * 2 - 1) * EPS)
    dp = project(xp, (torch.rand_like(x) * 2 - 1) * EPS)
    l4 = lam.view(-1, 1, 1, 1)
    t = lam[:, None] * yo + (1 - lam[:, None]) * ypo
    for _ in range(STEPS):
        d.requires_grad_(True)
        dp.requires_grad_(True)
        loss = soft_ce_sum(model(l4 * (x + d) + (1 - l4) * (xp + dp)), t)
        gd, gdp = torch.autograd.grad(loss, (d, dp))
        d = project(x, d.detach() + STEP * gd.sign())
        dp = project(xp, dp.detach() + STEP * gdp.sign())
    logits = model(l4 * (x + d) + (1 - l4) * (xp + dp))
    return soft_ce_sum(logits, t) / n


class Normalized(torch.nn.Module):
    def __init__(self, net, device):
        super().__init__()
        self.net, self.mean, self.std = net, MEAN.to(device), STD.to(device)

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--method", default="pgd_at", choices=["pgd_at", "aom"])
    p.add_argument("--model", default="preact_resnet18")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--bf16", action="store_true")
    a = p.parse_args()
    torch.manual_seed(0)
    dev = torch.device(a.device)
    model = Normalized(build(a.model, 28, 10, 10), dev).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    n = a.batch_size * 4
    data_x = torch.rand(n, 3, 32, 32, device=dev)
    data_y = torch.randint(0, 10, (n,), device=dev)
    step = pgd_at if a.method == "pgd_at" else aom

    def run(batches):
        for b in range(batches):
            s = (b * a.batch_size) % n
            x, y = crop_flip(data_x[s : s + a.batch_size]), data_y[s : s + a.batch_size]
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=a.bf16 and dev.type == "cuda"):
                loss = step(model, x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    run(a.warmup)
    t0 = time.perf_counter()
    run(a.batches)
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "impl": "PyTorch eager", "method": a.method, "model": a.model, "device": str(dev),
        "bf16": a.bf16 and dev.type == "cuda", "batch_size": a.batch_size, "batches": a.batches,
        "seconds": seconds, "images_per_second": a.batches * a.batch_size / seconds,
    }))


if __name__ == "__main__":
    main()
