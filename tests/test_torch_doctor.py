"""chainrule.torch on real PyTorch models: each condition is first measured with plain hooks
(or plain autograd), then the doctor's verdict, layer order, first NaN and untouched model."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import chainrule.torch as doctor  # noqa: E402
from chainrule.lab.verdict import VERDICTS  # noqa: E402


def mlp(widths: list[int], act: type = nn.Sigmoid, init: Any = None) -> Any:
    layers: list[Any] = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        lin = nn.Linear(a, b)
        if init is not None:
            init(lin)
        layers += [lin, act()]
    return nn.Sequential(*layers[:-1])


def kaiming(lin: Any) -> None:
    nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
    nn.init.zeros_(lin.bias)


def batch(n: int = 512, d: int = 20, classes: int = 10, seed: int = 0) -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    w = torch.randn(d, classes, generator=g, dtype=torch.float64)
    return x, (x @ w).argmax(dim=1)  # a learnable labelling


def snapshot(model: Any) -> dict[str, Any]:
    return {"state": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "grads": {n: None if p.grad is None else p.grad.clone()
                      for n, p in model.named_parameters()},
            "modes": [m.training for m in model.modules()],
            "hooks": [(len(m._forward_hooks), len(m._backward_hooks),
                       len(m._forward_pre_hooks)) for m in model.modules()]}


def assert_untouched(model: Any, before: dict[str, Any]) -> None:
    after = snapshot(model)
    for k, v in before["state"].items():
        assert torch.equal(v, after["state"][k]) or (v.isnan() == after["state"][k].isnan()).all()
    for n, g in before["grads"].items():
        assert (g is None and after["grads"][n] is None) or torch.equal(g, after["grads"][n])
    assert before["modes"] == after["modes"] and before["hooks"] == after["hooks"]


def bias_grad_norms(model: Any, x: Any, y: Any) -> list[float]:
    """The plain measurement: ‖∂C/∂b‖ of every Linear, by one backward pass."""
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    norms = [float(m.bias.grad.norm()) for m in model.modules() if isinstance(m, nn.Linear)]
    model.zero_grad(set_to_none=True)
    return norms


def train_accuracy(model: Any, x: Any, y: Any, lr: float, steps: int = 300) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def test_deep_sigmoid_vanishes_relu_he_does_not() -> None:
    torch.manual_seed(0)
    x, y = batch()
    deep = mlp([20, *[30] * 8, 10]).double()
    norms = bias_grad_norms(deep, x, y)
    assert norms[0] / norms[-1] < 1 / 50  # measured with plain autograd first
    before = snapshot(deep)
    d = doctor.diagnose(deep, x, y)
    assert d.verdict == "vanishing"
    assert [r.name for r in d.layers] == [str(i) for i in range(0, 18, 2)]
    assert [r.activation for r in d.layers] == ["sigmoid"] * 8 + [None]
    assert d.layers[0].ratio_to_last == pytest.approx(norms[0] / norms[-1], rel=1e-9)
    assert any("relu" in s.how for s in d.suggestions)
    assert d.factors and all(0 < f["factor"] < 1 for f in d.factors)
    assert_untouched(deep, before)

    relu = mlp([20, *[64] * 6, 10], nn.ReLU, kaiming).double()
    norms = bias_grad_norms(relu, x, y)
    assert 1 / 10 < norms[0] / norms[-1] < 10
    assert doctor.diagnose(relu, x, y).verdict == "healthy"


def test_residual_layernorm_and_cnn_are_healthy_and_ordered() -> None:
    torch.manual_seed(1)

    class Block(nn.Module):
        def __init__(self, d: int) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(d)
            self.fc = nn.Linear(d, d)

        def forward(self, h: Any) -> Any:
            return h + F.gelu(self.fc(self.norm(h)))

    class ResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Linear(20, 32)
            self.blocks = nn.ModuleList(Block(32) for _ in range(4))
            self.out = nn.Linear(32, 10)

        def forward(self, h: Any) -> Any:
            h = self.inp(h)
            for b in self.blocks:
                h = b(h)
            return self.out(h)

    x, y = batch()
    x, model = x.float(), ResNet()
    before = snapshot(model)
    d = doctor.diagnose(model, x, y)
    assert d.verdict == "healthy", [f.message for f in d.findings]
    names = [r.name for r in d.layers]
    assert names[0] == "inp" and names[-1] == "out" and "blocks.0.norm" in names
    assert next(r for r in d.layers if r.name == "blocks.0.fc").activation == "gelu"
    assert_untouched(model, before)

    cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(16 * 4 * 4, 10))
    cnn.eval()  # the doctor must restore eval mode and BatchNorm's running statistics
    images = torch.randn(64, 1, 8, 8)
    labels = torch.randint(0, 10, (64,))
    before = snapshot(cnn)
    d = doctor.diagnose(cnn, images, labels)
    assert [r.name for r in d.layers] == ["0", "1", "4", "7"]
    assert d.layers[1].activation == "relu" and d.layers[1].units == 8
    assert d.verdict == "healthy"
    assert_untouched(cnn, before)


def test_embedding_and_frozen_parameters() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Embedding(50, 16), nn.Flatten(), nn.Linear(16 * 5, 32), nn.Tanh(),
                          nn.Linear(32, 4))
    model[0].weight.requires_grad_(False)
    tokens = torch.randint(0, 50, (128, 5))
    labels = torch.randint(0, 4, (128,))
    before = snapshot(model)
    d = doctor.diagnose(model, tokens, labels)
    assert [r.name for r in d.layers] == ["0", "2", "4"]
    assert d.layers[0].frozen and d.layers[0].update_ratio is None
    assert d.verdict == "healthy"  # a frozen layer's zero gradient is not "vanishing"
    assert model[0].weight.grad is None
    assert_untouched(model, before)


def test_saturating_weights_and_dead_relus() -> None:
    torch.manual_seed(3)
    x, y = batch()
    sat = mlp([20, 30, 30, 10]).double()
    with torch.no_grad():
        sat[0].weight.mul_(200.0)
    zs = sat[0](x)
    assert float((zs.abs() > 4).double().mean()) > 0.9  # measured first
    d = doctor.diagnose(sat, x, y)
    assert d.verdict == "saturated" and d.layers[0].saturated_fraction > 0.9

    dead = mlp([20, 64, 64, 10], nn.ReLU, kaiming).double()
    with torch.no_grad():
        dead[2].bias.fill_(-50.0)
    assert float((dead[2](dead[1](dead[0](x))).amax(0) <= 0).double().mean()) == 1.0
    d = doctor.diagnose(dead, x, y)
    assert d.verdict == "dead units" and d.layers[1].dead_fraction == 1.0
    assert not any(c.setting == "lr" for s in d.suggestions for c in s.changes)


def test_inf_planted_is_named_forward_first() -> None:
    torch.manual_seed(4)
    x, y = batch()
    model = nn.Sequential()
    model.add_module("stem", nn.Linear(20, 30))
    model.add_module("act", nn.Tanh())
    model.add_module("mid", nn.Linear(30, 30))
    model.add_module("act2", nn.Tanh())
    model.add_module("head", nn.Linear(30, 10))
    model.double()
    with torch.no_grad():
        model.mid.weight[3, 4] = math.inf
    before = snapshot(model)
    d = doctor.diagnose(model, x, y)
    assert d.verdict == "exploding" and d.first_nonfinite == "mid"
    assert_untouched(model, before)


def test_huge_learning_rate_is_exploding() -> None:
    torch.manual_seed(5)
    x, y = batch()
    model = mlp([20, 30, 10], nn.ReLU, kaiming).double()
    # Measured first: one SGD step at lr 1e4 changes the weights by more than their size.
    w0 = [p.detach().clone() for p in model.parameters() if p.dim() == 2]
    F.cross_entropy(model(x), y).backward()
    step = math.sqrt(sum(float((1e4 * p.grad).norm()) ** 2
                         for p in model.parameters() if p.dim() == 2))
    assert step / math.sqrt(sum(float(w.norm()) ** 2 for w in w0)) > 1
    model.zero_grad(set_to_none=True)
    d = doctor.diagnose(model, x, y, lr=1e4)
    assert d.verdict == "exploding"
    lr = next(c for s in d.suggestions for c in s.changes if c.setting == "lr")
    assert lr.new < 1e4 and "lr=" in d.suggestions[0].how


def test_results_are_json_and_html(tmp_path: Path) -> None:
    x, y = batch()
    d = doctor.diagnose(mlp([20, 30, 10]).double(), x, y)
    assert d.verdict in VERDICTS
    json.dumps(d.to_dict(), allow_nan=False)
    assert "<table>" in d._repr_html_()


@pytest.mark.parametrize("case,message", [
    ("no-params", "no parameters"),
    ("misfit", "does not fit the model"),
    ("vector-loss", "must be a scalar"),
    ("nan-loss", "already nan"),
])
def test_bad_input_is_one_sentence_and_leaves_the_model(case: str, message: str) -> None:
    x, y = batch()
    model = mlp([20, 30, 10]).double()
    loss_fn = None
    if case == "no-params":
        model = nn.Sequential(nn.ReLU())
    elif case == "misfit":
        x = x[:, :7]
    elif case == "vector-loss":
        loss_fn = lambda out, t: F.cross_entropy(out, t, reduction="none")  # noqa: E731
    elif case == "nan-loss":
        loss_fn = lambda out, t: out.sum() * math.nan  # noqa: E731
    before = snapshot(model)
    with pytest.raises(doctor.DoctorError, match=message) as info:
        doctor.diagnose(model, x, y, loss_fn=loss_fn)
    assert "\n" not in str(info.value)
    assert_untouched(model, before)


def test_watch_records_steps_and_removes_its_hooks(tmp_path: Path) -> None:
    torch.manual_seed(6)
    x, y = batch()
    model = mlp([20, 64, 64, 10], nn.ReLU, kaiming).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with doctor.watch(model) as w:
        for _ in range(30):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            g0 = float(model[0].weight.grad.norm())
            before = model[0].weight.detach().clone()
            opt.step()
            w.log(loss)
            rec = w.records[-1]
            # The recording is the plain measurement: ‖∂C/∂W‖ and ‖ΔW‖/‖W‖.
            assert rec["grad_norm"][0] == pytest.approx(g0, rel=1e-9)
            moved = float((model[0].weight.detach() - before).norm()) / float(before.norm())
            assert rec["update_ratio"][0] == pytest.approx(moved, rel=1e-9)
    from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks
    assert not _global_optimizer_pre_hooks and not _global_optimizer_post_hooks
    report = w.report()
    assert report.verdict == "healthy" and len(report.steps) == 30
    path = report.save_html(tmp_path / "report.html")
    html = Path(path).read_text()
    assert "data:image/png;base64," in html and "http" not in html.replace(
        "http://www.w3.org/2000/svg", "")

    # Any other optimizer: the update is measured from a copy of the weights.
    adam_model = mlp([20, 30, 10], nn.ReLU, kaiming).double()
    adam = torch.optim.Adam(adam_model.parameters(), lr=1e-3)
    with doctor.watch(adam_model, every=2) as wa:
        for _ in range(6):
            adam.zero_grad()
            F.cross_entropy(adam_model(x), y).backward()
            before = adam_model[0].weight.detach().clone()
            adam.step()
            if wa.records and wa.records[-1]["step"] == wa._count:
                moved = float((adam_model[0].weight.detach() - before).norm())
                assert wa.records[-1]["update_ratio"][0] == pytest.approx(
                    moved / float(before.norm()), rel=1e-9)
    assert [r["step"] for r in wa.records] == [1, 3, 5]

    blown = mlp([20, 30, 10], nn.ReLU, kaiming).double()
    opt = torch.optim.SGD(blown.parameters(), lr=1e300)
    with pytest.raises(RuntimeError, match="boom"), doctor.watch(blown) as w2:
        for _ in range(5):
            opt.zero_grad()
            F.cross_entropy(blown(x), y).backward()
            opt.step()
        raise RuntimeError("boom")
    assert not _global_optimizer_pre_hooks and not _global_optimizer_post_hooks
    assert w2.events and w2.report().first_nonfinite == w2.events[0]["layer"]
    assert w2.report().verdict == "exploding"


# Lightning 2.6 warns about its own use of torch APIs and about DataLoader workers.
@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning",
                            "ignore::DeprecationWarning")
def test_lightning_callback(tmp_path: Path) -> None:
    lightning = pytest.importorskip("lightning")
    from chainrule.torch.lightning import DoctorCallback

    x, y = batch(256)
    x = x.float()

    class Module(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp([20, *[30] * 8, 10])  # Nielsen's deep sigmoid net

        def training_step(self, b: Any, i: int) -> Any:
            return F.cross_entropy(self.net(b[0]), b[1])

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(7)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    doctor_cb = DoctorCallback(html=tmp_path / "report.html")
    trainer = lightning.Trainer(max_epochs=3, callbacks=[doctor_cb], logger=False,
                                enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False, accelerator="cpu",
                                default_root_dir=tmp_path)
    trainer.fit(Module(), data)
    report = doctor_cb.report
    assert report is not None and len(report.steps) == 24
    assert [r.name for r in report.layers][:2] == ["net.0", "net.2"]
    assert report.verdict == "vanishing"
    # Advice in PyTorch's terms; a setting nobody told the recorder reads "?", not "None".
    assert report.suggestions and all("nn." in s.how for s in report.suggestions)
    assert all("None" not in s.summary for s in report.suggestions)
    assert (tmp_path / "report.html").stat().st_size > 5_000
    from torch.optim.optimizer import _global_optimizer_pre_hooks
    assert not _global_optimizer_pre_hooks


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning",
                            "ignore::DeprecationWarning")
def test_huggingface_callback(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from transformers import Trainer, TrainingArguments

    from chainrule.torch.huggingface import DoctorCallback

    x, y = batch(256)

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp([20, 64, 64, 10], nn.ReLU, kaiming)

        def forward(self, inputs: Any, labels: Any = None) -> dict[str, Any]:
            logits = self.net(inputs)
            return {"loss": F.cross_entropy(logits, labels), "logits": logits}

    class Data(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return len(y)

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"inputs": x[i].float(), "labels": y[i]}

    torch.manual_seed(8)
    doctor_cb = DoctorCallback(html=tmp_path / "report.html")
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=24, per_device_train_batch_size=32,
                             learning_rate=0.05, optim="sgd", logging_steps=1, report_to=[],
                             save_strategy="no", use_cpu=True, disable_tqdm=True)
    Trainer(model=Model(), args=args, train_dataset=Data(), callbacks=[doctor_cb]).train()
    report = doctor_cb.report
    assert report is not None and len(report.steps) == 24
    assert [r.name for r in report.layers] == ["net.0", "net.2", "net.4"]
    assert report.verdict == "healthy" and report.history is not None
    assert (tmp_path / "report.html").stat().st_size > 5_000
    from torch.optim.optimizer import _global_optimizer_pre_hooks
    assert not _global_optimizer_pre_hooks
