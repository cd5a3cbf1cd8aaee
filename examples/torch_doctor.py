"""The PyTorch doctor on a real model: Nielsen's deep sigmoid net on MNIST, before and after.

    pip install "chainrule[torch]" && python examples/torch_doctor.py

Diagnoses the model, trains it, applies the doctor's first suggestion (ReLU + Kaiming) and trains
again on the same data; writes report.html (self-contained) from the recording of the run.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import chainrule.torch as doctor
from chainrule.data import load_sample


def mlp(act: type[nn.Module], kaiming: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    sizes = [784, 30, 30, 30, 30, 10]
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        lin = nn.Linear(a, b)
        if kaiming:
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
        layers += [lin, act()]
    return nn.Sequential(*layers[:-1])


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, tx: torch.Tensor,
          ty: torch.Tensor, epochs: int = 2) -> tuple[float, doctor.Watch]:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(0)
    with doctor.watch(model) as w:
        for _ in range(epochs):
            for idx in torch.randperm(len(y), generator=g).split(10):
                opt.zero_grad()
                loss = F.cross_entropy(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
                w.log(loss)
    with torch.no_grad():
        return float((model(tx).argmax(1) == ty).float().mean()), w


def main() -> None:
    data = load_sample().preprocess("scale")
    x, y = torch.tensor(data.train_x, dtype=torch.float32), torch.tensor(data.train_y)
    tx, ty = torch.tensor(data.test_x, dtype=torch.float32), torch.tensor(data.test_y)
    torch.manual_seed(0)
    sick = mlp(nn.Sigmoid, kaiming=False)
    d = doctor.diagnose(sick, x[:1000], y[:1000])
    print("before:", d.verdict)
    for f in d.findings:
        print(f"  [{f.severity}] {f.message}")
    for s in d.suggestions:
        print("  try:", s.how)
    accuracy, w = train(sick, x, y, tx, ty)
    print(f"test accuracy after 2 epochs: {accuracy:.1%}; over the run: {w.report().verdict}")
    w.report().save_html("report.html")
    torch.manual_seed(0)
    fixed = mlp(nn.ReLU, kaiming=True)
    print("after:", doctor.diagnose(fixed, x[:1000], y[:1000]).verdict)
    accuracy, _ = train(fixed, x, y, tx, ty)
    print(f"test accuracy after 2 epochs: {accuracy:.1%}")


if __name__ == "__main__":
    main()
