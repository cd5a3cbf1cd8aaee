"""``chainrule study``: the input-scale study and the learning-rate sweep."""

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
    floats,
    fmt,
    lab_errors,
    numbers_table,
    progress_bar,
    pyplot,
    save_figure,
    sizes,
)
from chainrule.commands._params import BATCH, COUNT, LEARNING_RATE, SAMPLES, SEED, SIZES, Numbers
from chainrule.i18n import _, number

COLORS = ["#2A6EA6", "#FFA933", "#FF5555", "#3CB371", "#5555FF", "#8E44AD", "#7F8C8D",
          "#E67E22", "#16A085"]


@click.group("study")
def study() -> None:
    """Studies from the texts: input scale (raw / scaled / standardized) and learning rate."""


def _common(fn: Any) -> Any:
    options = [
        click.option("--sizes", "sizes_text", type=SIZES, default="784,30,10", show_default=True),
        click.option("--activation", type=click.Choice(ACTIVATION_NAMES), default="sigmoid",
                     show_default=True),
        click.option("--init", type=click.Choice(INIT_NAMES), default="nielsen",
                     show_default=True),
        click.option("--loss", type=click.Choice(LOSS_NAMES), default="cross-entropy",
                     show_default=True),
        click.option("--epochs", type=COUNT, default=3, show_default=True),
        click.option("--batch", type=BATCH, default=10, show_default=True),
        click.option("--samples", type=SAMPLES, default=1000, show_default=True,
                     help="Train on the first N training images (test: the whole test set)."),
        click.option("--seed", type=SEED, default=0, show_default=True),
        click.option("--data", default="sample", show_default=True,
                     help="sample (embedded), mnist (downloaded), or a path."),
        click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
                     help=PLOT_HELP),
        click.option("--json", "as_json", is_flag=True, help=JSON_HELP),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@study.command("input-scale")
@_common
@click.option("--lr", type=LEARNING_RATE, default=0.1, show_default=True)
def input_scale(sizes_text: str, activation: str, init: str, loss: str, epochs: int,
                batch: int, samples: int, seed: int, data: str, plot_path: Path | None,
                as_json: bool, lr: float) -> None:
    """The same network and initial weights on raw pixels (0–255), scaled [0, 1] and
    standardized inputs: the multiply gate hands w a gradient proportional to its input."""
    from chainrule.lab import studies

    parsed = sizes(sizes_text)
    with lab_errors(), progress_bar(_("training"), not as_json) as update:
        result = studies.input_scale_study(
            parsed, epochs=epochs, lr=lr, batch=batch, activation=activation, init=init,
            loss=loss, samples=samples, seed=seed, data=data, progress=update)
    if plot_path is not None:
        _plot_scale(result, plot_path)
    if as_json:
        emit_json(result)
        return
    out = console()
    table = numbers_table(
        _("{sizes} {activation}, init {init}, {loss}, lr {lr}, batch {batch}, {epochs} epochs "
          "on {samples} images").format(
            sizes=",".join(map(str, parsed)), activation=activation, init=init, loss=loss,
            lr=number(lr, "g"), batch=batch, epochs=epochs, samples=number(samples, ",")),
        (_("inputs"), _("mean |x|"), _("‖∂C/∂W¹‖ at start"), _("÷ scaled"),
         _("layer-1 saturated"), _("‖∂C/∂W¹‖ at end"), _("test accuracy")))
    for mode, run in result["modes"].items():
        sat = run["first_layer_saturated"]
        table.add_row(
            mode, fmt(run["input_mean_abs"], 3), fmt(run["first_layer_weight_grad"][0], 3),
            fmt(run["gradient_ratio_to_scale"], 3) + "×",
            "" if sat is None else number(sat, ".0%"), fmt(run["first_layer_weight_grad"][-1], 3),
            number(run["test_accuracy"][-1], ".1%")
            + (" " + _("(diverged)") if run["diverged"] else ""),
        )
    out.print(table)
    out.print(_("The multiply gate z = w·x hands w the gradient ∂C/∂z·x: proportional to its "
                "input. Raw pixels are 255× the scaled ones, so the first layer's weight "
                "gradient starts larger — unless the large z saturate the units, whose "
                "σ'(z) ≈ 0 then stops learning instead."))
    if plot_path is not None:
        out.print(_("wrote {path}").format(path=plot_path))


@study.command("lr")
@_common
@click.option("--lrs", type=Numbers(LEARNING_RATE), metavar="R1,R2,…",
              help="Learning rates (default: --min … --max).")
@click.option("--min", "low", type=LEARNING_RATE, default=1e-3, show_default=True)
@click.option("--max", "high", type=LEARNING_RATE, default=1e2, show_default=True)
@click.option("--num", type=click.IntRange(1, 1000), default=6, show_default=True,
              help="How many log-spaced rates between --min and --max.")
@click.option("--preprocess", type=click.Choice(PREPROCESS_NAMES), default="scale",
              show_default=True)
def lr(sizes_text: str, activation: str, init: str, loss: str, epochs: int, batch: int,
       samples: int, seed: int, data: str, plot_path: Path | None, as_json: bool,
       lrs: str | None, low: float, high: float, num: int, preprocess: str) -> None:
    """A learning-rate sweep from the same start: final cost and accuracy per rate,
    divergence detected and marked."""
    from chainrule.lab import studies

    parsed = sizes(sizes_text)
    with lab_errors(), progress_bar(_("learning rates"), not as_json) as update:
        rates = floats(lrs, "--lrs") if lrs else studies.lr_grid(low, high, num)
        result = studies.lr_sweep(
            rates, parsed, epochs=epochs, batch=batch, activation=activation, init=init,
            loss=loss, preprocess=preprocess, samples=samples, seed=seed, data=data,
            progress=update)
    if plot_path is not None:
        _plot_lr(result, plot_path)
    if as_json:
        emit_json(result)
        return
    out = console()
    table = numbers_table(
        _("{sizes} {activation}, init {init}, {loss}, batch {batch}, {epochs} epochs on "
          "{samples} images").format(
            sizes=",".join(map(str, parsed)), activation=activation, init=init, loss=loss,
            batch=batch, epochs=epochs, samples=number(samples, ",")),
        ("lr", _("train cost"), _("test cost"), _("test accuracy"), ""))
    for run in result["runs"]:
        diverged = _("diverged (epoch {epoch})").format(epoch=run["diverged_at_epoch"])
        mark = f"[red]{diverged}[/]" if run["diverged"] else (
            "[green]" + _("best") + "[/]" if run["lr"] == result["best_lr"] else "")
        table.add_row(number(run["lr"], ".3g"), fmt(run["final_train_cost"], 4),
                      fmt(run["final_test_cost"], 4),
                      number(run["final_test_accuracy"], ".1%"), mark)
    out.print(table)
    out.print("[dim]" + _("diverged: the cost or the weights stopped being finite, or an "
                          "epoch's cost rose above {factor}× the starting cost.").format(
        factor=number(result["divergence_factor"], "g")) + "[/]")
    if plot_path is not None:
        out.print(_("wrote {path}").format(path=plot_path))


def _plot_scale(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for k, (mode, run) in enumerate(result["modes"].items()):
        colour = COLORS[k % len(COLORS)]
        grads = [g if g else float("nan") for g in run["first_layer_weight_grad"]]
        ax1.plot(range(len(grads)), grads, "o-", color=colour, label=mode)
        ax2.plot(range(len(run["test_accuracy"])), run["test_accuracy"], "o-", color=colour,
                 label=mode)
    ax1.set_yscale("log")
    ax1.set_xlabel(_("epoch"))
    ax1.set_title(_("first-layer weight gradient ‖∂C/∂W¹‖"))
    ax2.set_xlabel(_("epoch"))
    ax2.set_ylim(0, 1)
    ax2.set_title(_("test accuracy"))
    from matplotlib.ticker import MaxNLocator

    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(_("Input scale: {sizes} {activation}, lr {lr}").format(
        sizes=",".join(map(str, result["sizes"])), activation=result["activation"],
        lr=number(result["lr"], "g")))
    save_figure(fig, path)


def _plot_lr(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    runs = result["runs"]
    rates = [r["lr"] for r in runs]
    acc = [r["final_test_accuracy"] for r in runs]
    ax1.plot(rates, acc, "-", color="#2A6EA6", zorder=1)
    for r in runs:
        ax1.scatter([r["lr"]], [r["final_test_accuracy"]], zorder=2, s=60,
                    color="#c0392b" if r["diverged"] else "#2A6EA6",
                    marker="x" if r["diverged"] else "o")
    ax1.scatter([], [], color="#c0392b", marker="x", label=_("diverged"))
    ax1.set_xscale("log")
    ax1.set_ylim(0, 1)
    ax1.set_xlabel(_("learning rate"))
    ax1.set_title(_("final test accuracy"))
    ax1.legend(fontsize=8)
    for k, r in enumerate(runs):
        costs = [c if c is not None else float("nan") for c in r["train_cost"]]
        ax2.plot(range(len(costs)), costs, "o-" if not r["diverged"] else "x--",
                 color=COLORS[k % len(COLORS)], label="lr " + number(r["lr"], ".3g"))
    ax2.set_yscale("log")
    ax2.set_xlabel(_("epoch"))
    ax2.set_title(_("training cost"))
    ax2.legend(fontsize=7)
    from matplotlib.ticker import MaxNLocator

    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(_("Learning-rate sweep: {sizes} {activation}, {epochs} epochs").format(
        sizes=",".join(map(str, result["sizes"])), activation=result["activation"],
        epochs=result["epochs"]))
    save_figure(fig, path)
