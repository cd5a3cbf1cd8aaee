"""``chainrule diagnose``: per-layer gradient evidence, a verdict and what to try."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from chainrule.commands._lab import (
    ACTIVATION_NAMES,
    INIT_NAMES,
    JSON_HELP,
    LOSS_NAMES,
    PLOT_HELP,
    PREPROCESS_NAMES,
    console,
    emit_json,
    fmt,
    lab_errors,
    numbers_table,
    pyplot,
    save_figure,
    sizes,
)
from chainrule.commands._params import LEARNING_RATE, SAMPLES, SEED, SIZES, WEIGHT_SCALE

_EPILOG = """\b
Examples:
  chainrule diagnose --sizes 784,30,30,30,30,30,10             # deep sigmoid: vanishing
  chainrule diagnose --sizes 784,30,10 --init nielsen-large --preprocess raw   # saturated
  chainrule diagnose --sizes 784,100,100,10 --activation relu --init he --loss softmax
  chainrule diagnose run.npz --json                            # a `chainrule train` checkpoint
"""

# `chainrule train`'s loss names → the lab's costs.
_TRAIN_LOSSES = {"quadratic": "quadratic", "mse": "quadratic", "bce": "cross-entropy",
                 "softmax": "softmax"}


@click.command("diagnose", epilog=_EPILOG)
@click.argument("checkpoint", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sizes", "sizes_text", type=SIZES, default="784,30,30,30,30,10", show_default=True,
              help="Layer sizes of a fresh network (without CHECKPOINT).")
@click.option("--init", type=click.Choice(INIT_NAMES), default="nielsen", show_default=True)
@click.option("--activation", type=click.Choice(ACTIVATION_NAMES), default="sigmoid",
              show_default=True)
@click.option("--weight-scale", type=WEIGHT_SCALE, default=1.0, show_default=True,
              help="Multiply every initial weight of the fresh network by this.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--loss", type=click.Choice(LOSS_NAMES),
              help="Cost (default: the checkpoint's, else cross-entropy).")
@click.option("--data", default="sample", show_default=True,
              help="sample (embedded), mnist (downloaded), or a path.")
@click.option("--preprocess", type=click.Choice(PREPROCESS_NAMES),
              help="Input pixels (default: the checkpoint's, else scale).")
@click.option("--samples", type=SAMPLES, default=1000, show_default=True,
              help="Diagnose on the first N training images.")
@click.option("--lr", type=LEARNING_RATE,
              help="Learning rate for the update/weight ratio (default: the checkpoint's, "
                   "else 0.1).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help=PLOT_HELP)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def diagnose(
    checkpoint: Path | None,
    sizes_text: str,
    init: str,
    activation: str,
    weight_scale: float,
    seed: int,
    loss: str | None,
    data: str,
    preprocess: str | None,
    samples: int,
    lr: float | None,
    plot_path: Path | None,
    as_json: bool,
) -> None:
    """Why is a network (a CHECKPOINT from `chainrule train`, or a fresh one) not learning?
    Gradient norms per layer, saturated and dead units, a verdict and suggestions."""
    from chainrule.lab import diagnosis as lab
    from chainrule.lab import flow

    with lab_errors():
        if checkpoint is not None:
            from chainrule.nn.checkpoint import load_model, read_checkpoint

            model = load_model(checkpoint)
            config = read_checkpoint(checkpoint).meta.get("config", {})
            loss = loss or _TRAIN_LOSSES.get(config.get("loss", ""), "cross-entropy")
            preprocess = preprocess or config.get("preprocess", "scale")
            if lr is None:
                lr = float(config.get("lr", 0.1))
            known_init: str | None = config.get("init")
            scale = 1.0
            source = str(checkpoint)
        else:
            parsed = sizes(sizes_text)
            loss = loss or "cross-entropy"
            model = flow.make_model(parsed, activation, init, seed, weight_scale, loss)
            known_init, scale = init, weight_scale
            source = f"fresh {','.join(map(str, parsed))} {activation} network, init {init}" + (
                f", weights ×{weight_scale:g}" if weight_scale != 1.0 else "")
        preprocess = preprocess or "scale"
        lr = 0.1 if lr is None else lr
        x, labels, name = flow.load_inputs(model.sizes, samples, preprocess, data)
        result = lab.diagnose(model, x, labels, lr=lr, loss=loss, init=known_init,
                              preprocess=preprocess, weight_scale=scale)
    if plot_path is not None:
        _plot(result, source, plot_path)
    if as_json:
        emit_json({"model": source, "data": name, "preprocess": preprocess,
                   **result.to_dict()})
        return
    _show(result, source, f"{samples:,} {name} images ({preprocess})", plot_path)


def _show(result: Any, source: str, data: str, plot_path: Path | None) -> None:
    out = console()
    table = numbers_table(f"{source} on {data}, {result.loss} cost",
                          ("#", "shape", "act", "‖∂C/∂W‖", "RMS δ", "÷ last", "upd/w", "sat",
                           "dead", "NaN"), no_wrap=True)
    for r in result.layers:
        table.add_row(
            str(r.index), f"{r.inputs}→{r.units}", r.activation or "linear",
            fmt(r.weight_grad_norm, 2), fmt(r.grad_rms, 2), fmt(r.ratio_to_last, 2),
            fmt(r.update_ratio, 2),
            "" if r.saturated_fraction is None else f"{r.saturated_fraction:.0%}",
            "" if r.dead_fraction is None else f"{r.dead_fraction:.0%}",
            "[red]yes[/]" if r.nonfinite else "",
        )
    out.print(table)
    colour = "green" if result.verdict == "healthy" else "red"
    out.print(f"verdict: [bold {colour}]{result.verdict}[/]")
    for line in result.evidence:
        out.print(f"  • {line}")
    out.print("[bold]try[/]:")
    for line in result.suggestions:
        out.print(f"  • {line}")
    out.print("[dim]RMS δ = ‖∂C/∂b‖/√units; ÷ last = RMS δ over the output layer's; "
              "sat: share of |z| > 4 (sigmoid) or > 2 (tanh); dead: relu units with z ≤ 0 on "
              f"every image; upd/w = lr·‖∂C/∂W‖/‖W‖ at lr {result.lr:g} (about 1e-3 is "
              "healthy).[/]")
    if plot_path is not None:
        out.print(f"wrote {plot_path}")


def _plot(result: Any, source: str, path: Path) -> None:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    layers = result.layers
    xs = [r.index for r in layers]
    rms = [r.grad_rms if r.grad_rms > 0 else float("nan") for r in layers]
    upd = [r.update_ratio if r.update_ratio else float("nan") for r in layers]
    ax1.bar(xs, rms, color="#2A6EA6", label="RMS of ∂C/∂b per unit")
    ax1.plot(xs, upd, "o-", color="#FFA933", label="update/weight ratio")
    ax1.axhline(1e-3, color="#FFA933", linestyle=":", label="update/weight ≈ 1e-3")
    ax1.set_yscale("log")
    ax1.set_xticks(xs)
    ax1.set_xlabel("layer (input side first)")
    ax1.set_title("gradient size per layer")
    ax1.legend(fontsize=8)
    ax1.grid(True, which="both", axis="y", alpha=0.3)
    sat = [r.saturated_fraction or 0.0 for r in layers]
    dead = [r.dead_fraction or 0.0 for r in layers]
    ax2.bar([x - 0.2 for x in xs], sat, width=0.4, color="#FF5555", label="saturated (σ/tanh)")
    ax2.bar([x + 0.2 for x in xs], dead, width=0.4, color="#7F8C8D", label="dead (relu)")
    ax2.axhline(0.5, color="black", linestyle=":", label="verdict threshold 50%")
    ax2.set_ylim(0, 1.05)
    ax2.set_xticks(xs)
    ax2.set_xlabel("layer (input side first)")
    ax2.set_title("saturated inputs and dead units")
    ax2.legend(fontsize=8)
    fig.suptitle(f"{source}: {result.verdict}")
    save_figure(fig, path)
