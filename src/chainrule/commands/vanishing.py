"""``chainrule vanishing``: Nielsen's chapter-5 table and speed-of-learning curves on MNIST."""

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
    progress_bar,
    pyplot,
    save_figure,
    sizes,
)
from chainrule.commands._params import (
    BATCH,
    COUNT,
    LEARNING_RATE,
    NON_NEGATIVE,
    SAMPLES,
    SEED,
    SIZES,
    WEIGHT_SCALE,
)
from chainrule.i18n import N_, _, number

_EPILOG = """\b
Examples:
  chainrule vanishing                                   # the book's three networks, 20 seeds
  chainrule vanishing --sizes 784,30,30,30,10 --json
  chainrule vanishing --sizes 784,30,30,10 --epochs 100 --plot speed.png
  chainrule vanishing --compare activation --plot compare.png
  chainrule vanishing --compare init --sizes 784,30,30,30,30,30,10
"""

COLORS = ["#2A6EA6", "#FFA933", "#FF5555", "#3CB371", "#5555FF", "#8E44AD", "#7F8C8D"]


@click.command("vanishing", epilog=_EPILOG)
@click.option("--sizes", "sizes_text", type=SIZES, multiple=True, metavar="784,30,…,10",
              help="Layer sizes of a network; repeat for several. Default: the book's three "
                   "networks (2, 3 and 4 hidden layers of 30).")
@click.option("--init", type=click.Choice(INIT_NAMES), default="nielsen", show_default=True,
              help="Weight initialisation (nielsen: N(0, 1/n_in) weights, N(0, 1) biases).")
@click.option("--activation", type=click.Choice(ACTIVATION_NAMES), default="sigmoid",
              show_default=True, help="Hidden units (the output layer stays sigmoid).")
@click.option("--samples", type=SAMPLES, default=1000, show_default=True,
              help="Average the gradient over the first N training images.")
@click.option("--seeds", type=COUNT, default=20, show_default=True,
              help="Freshly initialised networks per row (mean and std over them).")
@click.option("--preprocess", type=click.Choice(PREPROCESS_NAMES), default="scale",
              show_default=True, help="Input pixels: raw 0–255, scaled to [0, 1], standardized.")
@click.option("--weight-scale", type=WEIGHT_SCALE, default=1.0, show_default=True,
              help="Multiply every initial weight by this.")
@click.option("--loss", type=click.Choice(LOSS_NAMES), default="cross-entropy",
              show_default=True, help="Cost (the book's chapter 5 uses cross-entropy).")
@click.option("--data", default="sample", show_default=True,
              help="sample (embedded), mnist (downloaded), or a path.")
@click.option("--epochs", type=COUNT,
              help="Also train (SGD + L2, as the book) and record the norms every epoch.")
@click.option("--lr", type=LEARNING_RATE, default=0.1, show_default=True,
              help="Learning rate (--epochs).")
@click.option("--lmbda", type=NON_NEGATIVE, default=5.0, show_default=True,
              help="L2 regularisation λ, weights only, decay η·λ/n (--epochs).")
@click.option("--batch", type=BATCH,
              help="Mini-batch size for --epochs (default: all samples, one step per epoch, "
                   "as the book).")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="First seed (the table uses seed … seed+seeds−1; training uses seed).")
@click.option("--compare", type=click.Choice(["activation", "init"]),
              help="Put several activations (sigmoid, tanh, relu) or inits side by side.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help=PLOT_HELP)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def vanishing(
    sizes_text: tuple[str, ...],
    init: str,
    activation: str,
    samples: int,
    seeds: int,
    preprocess: str,
    weight_scale: float,
    loss: str,
    data: str,
    epochs: int | None,
    lr: float,
    lmbda: float,
    batch: int | None,
    seed: int,
    compare: str | None,
    plot_path: Path | None,
    as_json: bool,
) -> None:
    """How fast each hidden layer learns: the length of ∂C/∂b averaged over the first N
    training images, layer by layer (Nielsen, ch. 5). Earlier layers learn slower."""
    from chainrule.lab import flow

    networks = [sizes(t) for t in sizes_text] or list(flow.BOOK_SIZES)
    if compare is not None:
        if len(networks) > 1 and sizes_text:
            raise click.UsageError(_("--compare takes one --sizes"))
        networks = [networks[0]] if sizes_text else [flow.BOOK_SIZES[-1]]
    settings: list[dict[str, Any]] = []
    if compare is None:
        settings = [{"sizes": s, "init": init, "activation": activation} for s in networks]
    else:
        settings = [{"sizes": networks[0], "init": init, "activation": activation, compare: v}
                    for v in flow.COMPARE[compare]]
    total = len(settings) * (seeds + (epochs + 1 if epochs else 0))
    results: list[dict[str, Any]] = []
    with lab_errors(), progress_bar(_("measuring gradients"), not as_json) as update:
        done = 0

        def step(_done: int, _total: int) -> None:
            update(done + _done, total)

        for setting in settings:
            table = flow.vanishing_table(
                setting["sizes"], init=setting["init"], activation=setting["activation"],
                samples=samples, seeds=seeds, preprocess=preprocess, weight_scale=weight_scale,
                data=data, loss=loss, first_seed=seed, progress=step,
            )
            done += seeds
            if epochs:
                run = flow.speed_of_learning(
                    setting["sizes"], epochs, lr=lr, lmbda=lmbda, samples=samples, batch=batch,
                    init=setting["init"], activation=setting["activation"],
                    preprocess=preprocess, weight_scale=weight_scale, seed=seed, data=data,
                    loss=loss, progress=lambda e, _n: step(e + 1, total),
                )
                done += epochs + 1
                table["history"] = run["history"]
                table["training"] = {k: run[k] for k in ("epochs", "lr", "lmbda", "batch", "seed",
                                                         "cost", "accuracy", "seconds")}
            results.append(table)
    if plot_path is not None:
        _plot(results, compare, plot_path)
    if as_json:
        if compare is not None:
            emit_json({"compare": compare, "settings": [
                {"value": s[compare], **r} for s, r in zip(settings, results, strict=True)]})
        elif len(results) == 1:
            emit_json(results[0])
        else:
            emit_json({"networks": results})
        return
    out = console()
    if compare is not None:
        _show_compare(out, compare, settings, results)
    else:
        for r in results:
            _show_table(out, r)
        _summary(out, results)
    if plot_path is not None:
        out.print(_("wrote {path}").format(path=plot_path))


def _setup(r: dict[str, Any]) -> str:
    return _("{activation}, init {init}, {loss} cost, ∂C/∂b averaged over {samples} {data} "
             "images (preprocessing: {preprocess}), {seeds} seeds").format(
        activation=r["activation"], init=r["init"], loss=r["loss"],
        samples=number(r["samples"], ","), data=r["data"], preprocess=r["preprocess"],
        seeds=r["seeds"])


def _show_table(out: Any, r: dict[str, Any]) -> None:
    name = ",".join(map(str, r["sizes"]))
    book = r["book"]
    columns = [_("hidden layer"), _("‖∂C/∂b‖ mean ± std"), _("× previous")]
    if book is not None:
        columns += [_("book"), _("ours vs book")]
    table = numbers_table(f"[bold]{name}[/]  ({number(r['seconds'], '.2f')} s)", columns)
    means, stds = r["hidden_layer_norms"]["mean"], r["hidden_layer_norms"]["std"]
    for i, (m, s) in enumerate(zip(means, stds, strict=True)):
        cells = [str(i + 1), f"{fmt(m, 3)} ± {fmt(s, 2)}",
                 "" if i == 0 else number(r["ratios"][i - 1], ".2f") + "×"]
        if book is not None:
            rel = r["book_relative"][i]
            colour = "green" if abs(rel) <= 0.4 else "red"
            cells += [number(book[i], "g"), f"[{colour}]{number(rel, '+.0%')}[/]"]
        table.add_row(*cells)
    out.print(table)
    if r.get("history"):
        _show_history(out, r)


def _show_history(out: Any, r: dict[str, Any]) -> None:
    history = r["history"]
    training = r["training"]
    table = numbers_table(
        _("speed of learning while training (seed {seed}, lr {lr}, λ {lmbda}, batch "
          "{batch})").format(seed=training["seed"], lr=number(training["lr"], "g"),
                             lmbda=number(training["lmbda"], "g"), batch=training["batch"]),
        [_("epoch"), *(_("layer {n}").format(n=i + 1) for i in range(len(history[0]))),
         _("cost"), _("accuracy")])
    last = len(history) - 1
    shown = sorted({round(k * last / 10) for k in range(11)})
    for e in shown:
        table.add_row(str(e), *(fmt(v, 3) for v in history[e]),
                      number(training["cost"][e], ".4f"), number(training["accuracy"][e], ".1%"))
    out.print(table)


def _summary(out: Any, results: list[dict[str, Any]]) -> None:
    ratios = [x for r in results for x in r["ratios"] if x is not None]
    if not ratios:
        return
    mean_ratio = sum(ratios) / len(ratios)
    first = results[0]
    out.print(f"[dim]{_setup(first)}.[/]")
    out.print(_("Each hidden layer learns {times} faster than the one before it (mean over the "
                "rows above): the gradient vanishes on its way back to the input.").format(
        times=f"[bold]{number(mean_ratio, '.1f')}×[/]"))
    if any(r["book"] is not None for r in results):
        out.print("[dim]" + _("Book: Nielsen, Neural Networks and Deep Learning, ch. 5 — one "
                              "network each, 1,000 full-MNIST images; each layer learns about "
                              "4–5× faster than the one before.") + "[/]")
    seconds = sum(r["seconds"] for r in results)
    out.print("[dim]" + _("{count} networks in {seconds} s").format(
        count=sum(r["seeds"] for r in results), seconds=number(seconds, ".2f")) + "[/]")


# What --compare puts side by side, as people read it (the values stay option values).
_COMPARED = {"activation": N_("activation"), "init": N_("init")}


def _show_compare(out: Any, kind: str, settings: list[dict[str, Any]],
                  results: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.table import Table

    name = ",".join(map(str, results[0]["sizes"]))
    table = Table(title=f"[bold]{name}[/]: " + _("‖∂C/∂b‖ per hidden layer (mean over {seeds} "
                                                 "seeds), by {kind}").format(
                      seeds=results[0]["seeds"], kind=_(_COMPARED[kind])),
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(_(_COMPARED[kind]))
    n_hidden = len(results[0]["hidden_layer_norms"]["mean"])
    for i in range(n_hidden):
        table.add_column(_("layer {n}").format(n=i + 1), justify="right")
    table.add_column(_("last / first"), justify="right")
    if results[0].get("history"):
        table.add_column(_("final accuracy"), justify="right")
    for s, r in zip(settings, results, strict=True):
        means = r["hidden_layer_norms"]["mean"]
        spread = means[-1] / means[0] if means[0] > 0 else float("inf")
        cells = [s[kind], *(fmt(m, 3) for m in means), number(spread, ".3g") + "×"]
        if r.get("history"):
            cells.append(number(r["training"]["accuracy"][-1], ".1%"))
        table.add_row(*cells)
    out.print(table)
    out.print("[dim]" + _("last / first: how many times faster the last hidden layer learns "
                          "than the first; near 1 means the gradient reaches the first layer "
                          "intact.") + "[/]")


def _plot(results: list[dict[str, Any]], compare: str | None, path: Path) -> None:
    plt = pyplot()
    n = len(results)
    with_history = bool(results[0].get("history"))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n + 0.8, 4.2), squeeze=False, sharey=True,
                             layout="constrained")
    for k, (ax, r) in enumerate(zip(axes[0], results, strict=True)):
        title = (_(_COMPARED[compare]) + f": {r[compare]}" if compare else
                 _("{count} hidden layers ({sizes})").format(
                     count=len(r["sizes"]) - 2, sizes=",".join(map(str, r["sizes"]))))
        if with_history:
            history = r["history"]
            epochs = range(len(history))
            for i in range(len(history[0])):
                ax.plot(epochs, [h[i] for h in history], color=COLORS[i % len(COLORS)],
                        label=_("hidden layer {n}").format(n=i + 1))
            ax.set_xlabel(_("epochs of training"))
            ax.set_xlim(0, len(history) - 1)
        else:
            means = r["hidden_layer_norms"]["mean"]
            stds = r["hidden_layer_norms"]["std"]
            xs = list(range(1, len(means) + 1))
            ax.bar(xs, means, yerr=stds, color=[COLORS[i % len(COLORS)] for i in range(len(xs))],
                   capsize=3, label=_("chainrule, mean ± std of {seeds} seeds").format(
                       seeds=r["seeds"]))
            if r["book"] is not None:
                ax.plot(xs, r["book"], "D", color="black", markersize=6,
                        label=_("Nielsen's book (one network)"))
            ax.set_xticks(xs, [f"{i}" for i in xs])
            ax.set_xlabel(_("hidden layer (input side first)"))
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", axis="y", alpha=0.3)
        if k == 0:
            ax.set_ylabel(_("‖∂C/∂b‖, speed of learning (log scale)"))
            ax.legend(fontsize=8, loc="upper left" if not with_history else "upper right")
    first = results[0]
    what = _("Speed of learning while training") if with_history else \
        _("Speed of learning of each hidden layer at initialisation")
    setup = [] if compare == "activation" else [first["activation"]]
    setup += [] if compare == "init" else [_("init {init}").format(init=first["init"])]
    setup.append(_("{count} {data} images").format(count=number(first["samples"], ","),
                                                    data=first["data"]))
    fig.suptitle(f"{what} ({', '.join(setup)})")
    save_figure(fig, path)
