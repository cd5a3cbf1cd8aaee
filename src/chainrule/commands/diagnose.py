"""``chainrule diagnose``: per-layer gradient evidence, a verdict and what to try."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from chainrule.commands._lab import (
    ACTIVATION_NAMES,
    INIT_NAMES,
    JSON_HELP,
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
from chainrule.commands._params import LEARNING_RATE, SAMPLES, SEED, SIZES, WEIGHT_SCALE
from chainrule.i18n import N_, _, number, use_language
from chainrule.lab.verdict import severity_text, verdict_text

_EPILOG = """\b
Examples:
  chainrule diagnose --sizes 784,30,30,30,30,30,10             # deep sigmoid: vanishing
  chainrule diagnose --sizes 784,30,10 --init nielsen-large --preprocess raw   # saturated
  chainrule diagnose --sizes 784,100,100,10 --activation relu --init he --loss softmax
  chainrule diagnose run.npz --json                            # a `chainrule train` checkpoint
  chainrule diagnose --sizes 784,30,30,30,30,10 --verify --plot fixes.png   # replay the fixes
"""

# `chainrule train`'s loss names → the lab's costs (bce is the lab's cross-entropy on logits).
_TRAIN_LOSSES = {"quadratic": "quadratic", "mse": "quadratic", "bce": "cross-entropy",
                 "softmax": "softmax", "cross-entropy": "cross-entropy"}


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
@click.option("--loss", type=click.Choice(tuple(_TRAIN_LOSSES)),
              help="Cost (default: the checkpoint's, else cross-entropy; bce = cross-entropy).")
@click.option("--data", default="sample", show_default=True,
              help="sample (embedded), mnist (downloaded), or a path.")
@click.option("--preprocess", type=click.Choice(PREPROCESS_NAMES),
              help="Input pixels (default: the checkpoint's, else scale).")
@click.option("--samples", type=SAMPLES, default=1000, show_default=True,
              help="Diagnose on the first N training images.")
@click.option("--lr", type=LEARNING_RATE,
              help="Learning rate for the update/weight ratio (default: the checkpoint's, "
                   "else 0.1).")
@click.option("--verify", is_flag=True,
              help="Replay every suggested fix: train the setup as it is and with each fix "
                   "for a short budget, and show before/after.")
@click.option("--epochs", "verify_epochs", type=click.IntRange(min=1), default=2,
              show_default=True, help="With --verify: epochs of each replay.")
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
    verify: bool,
    verify_epochs: int,
    plot_path: Path | None,
    as_json: bool,
) -> None:
    """Why is a network (a CHECKPOINT from `chainrule train`, or a fresh one) not learning?
    Gradient flow per layer, findings with their numbers, a verdict and fixes — with --verify,
    each fix replayed and measured."""
    from chainrule.lab import diagnosis as lab
    from chainrule.lab import flow
    from chainrule.lab.replay import Budget

    with lab_errors():
        history = None
        optimizer, momentum = "sgd", 0.0
        if checkpoint is not None:
            model, config, history = _load(checkpoint)
            loss = _TRAIN_LOSSES[loss or config.get("loss") or "bce"] \
                if (loss or config.get("loss")) in _TRAIN_LOSSES else "cross-entropy"
            preprocess = preprocess or _str(config.get("preprocess"), "scale")
            if lr is None:
                lr = _number(config.get("lr"), 0.1)
            optimizer = _str(config.get("optimizer"), "sgd")
            momentum = _number(config.get("momentum"), 0.0)
            known_init: str | None = _str(config.get("init"), "") or None
            scale = 1.0
            source = str(checkpoint)
        else:
            parsed = sizes(sizes_text)
            loss = _TRAIN_LOSSES[loss or "cross-entropy"]
            model = flow.make_model(parsed, activation, init, seed, weight_scale, loss)
            known_init, scale = init, weight_scale
            source = _fresh(parsed, activation, init, weight_scale)
        preprocess = preprocess or "scale"
        lr = 0.1 if lr is None else lr
        x, labels, name = flow.load_inputs(model.sizes, samples, preprocess, data)
        with progress_bar(_("replaying fixes"), enabled=verify and not as_json) as update:
            result = lab.diagnose(
                model, x, labels, lr=lr, loss=loss, init=known_init, preprocess=preprocess,
                weight_scale=scale, optimizer=optimizer, momentum=momentum, history=history,
                verify=verify, budget=Budget(epochs=verify_epochs), data=data, progress=update)
    if plot_path is not None:
        _plot(result, source, plot_path)
    if as_json:
        # The JSON describes the model in English, like every other value that is an interface.
        with use_language("en"):
            model_text = source if checkpoint is not None else _fresh(
                sizes(sizes_text), activation, init, weight_scale)
        emit_json({"model": model_text, "data": name, "preprocess": preprocess,
                   **result.to_dict()})
        return
    _show(result, source, _("{count} {data} images ({preprocess})").format(
        count=number(samples, ","), data=name, preprocess=preprocess), plot_path)


def _fresh(sizes: tuple[int, ...], activation: str, init: str, weight_scale: float) -> str:
    text = _("fresh {sizes} {activation} network, init {init}").format(
        sizes=",".join(map(str, sizes)), activation=activation, init=init)
    if weight_scale != 1.0:
        text += _(", weights ×{scale}").format(scale=number(weight_scale, "g"))
    return text


def _str(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default


def _number(value: Any, default: float) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok else default


def _load(path: Path) -> tuple[Any, dict[str, Any], Any]:
    """The checkpoint's model, its training settings and its per-epoch history (if any)."""
    from chainrule.lab._util import LabError
    from chainrule.lab.diagnosis import as_history
    from chainrule.nn.checkpoint import CheckpointError, model_from, read_checkpoint

    ckpt = read_checkpoint(path)  # read once: the model and the settings come from it
    model = model_from(ckpt, path)
    meta = ckpt.meta
    config = meta.get("config", {})
    config = config if isinstance(config, dict) else {}
    rows = meta.get("history")
    try:
        history = as_history(rows) if isinstance(rows, list) else None
    except LabError as exc:
        raise CheckpointError(_("{path}: {exc}").format(path=path, exc=exc)) from None
    return model, config, history


_SEVERITY_STYLE = {"problem": "bold red", "warning": "yellow", "note": "cyan", "ok": "green"}


def _show(result: Any, source: str, data: str, plot_path: Path | None) -> None:
    out = console()
    table = numbers_table(_("{model} on {data}, {loss} cost").format(
                              model=source, data=data, loss=result.loss),
                          ("#", _("shape"), _("act"), "‖∂C/∂b‖", _("÷ last"), "‖∂C/∂W‖",
                           _("upd/w"), _("sat"), _("dead"), "NaN"), no_wrap=True)
    for r in result.layers:
        table.add_row(
            str(r.index), f"{r.inputs}→{r.units}", r.activation or "linear",
            fmt(r.speed, 2), fmt(r.ratio_to_last, 2), fmt(r.weight_grad_norm, 2),
            fmt(r.update_ratio, 2),
            "" if r.saturated_fraction is None else number(r.saturated_fraction, ".0%"),
            "" if r.dead_fraction is None else number(r.dead_fraction, ".0%"),
            "[red]" + _("yes") + "[/]" if r.nonfinite else "",
        )
    out.print(table)
    colour = "green" if result.verdict == "healthy" else "red"
    out.print(_("verdict: {verdict}").format(
        verdict=f"[bold {colour}]{verdict_text(result.verdict)}[/]")
        + ("  " + _("(NaN/Inf first in layer {layer})").format(layer=result.first_nonfinite)
           if result.first_nonfinite else ""))
    if result.history is None:
        out.print("[dim]" + _("no training history: judged from this batch alone") + "[/]")
    width = max(len(severity_text(f.severity)) for f in result.findings) \
        if result.findings else 7
    for f in sorted(result.findings, key=lambda f: -_rank(f.severity)):
        word = severity_text(f.severity).rjust(max(width, 7))
        out.print(f"  [{_SEVERITY_STYLE[f.severity]}]{word}[/] {f.message}")
    if result.suggestions:
        out.print("[bold]" + _("try") + "[/]:")
        for s in result.suggestions:
            out.print(f"  • [bold]{s.flags}[/]  ({s.summary}) — {s.why}")
    if result.replay is not None:
        _show_replay(out, result.replay)
    out.print("[dim]" + _("‖∂C/∂b‖: Nielsen's speed of learning; ÷ last: over the output "
                          "layer's; sat: share of |z| > 4 (sigmoid) or > 2 (tanh); dead: relu "
                          "units with z ≤ 0 on every image; upd/w: ‖ΔW‖/‖W‖ of one step at lr "
                          "{lr}.").format(lr=number(result.lr, "g")) + "[/]")
    if plot_path is not None:
        out.print(_("wrote {path}").format(path=plot_path))


def _rank(severity: str) -> int:
    from chainrule.lab.verdict import SEVERITIES

    return SEVERITIES.index(severity)


def _show_replay(out: Any, replay: Any) -> None:
    b = replay.budget
    if not replay.outcomes:
        out.print("[dim]" + _("--verify: no fix to replay (as it is: {accuracy} test accuracy "
                              "after {epochs} more epoch(s)).").format(
            accuracy=number(replay.before.final_accuracy, ".1%"), epochs=b.epochs) + "[/]")
        return
    table = numbers_table(
        _("fixes replayed: {epochs} epoch(s) of SGD on {samples} images, batch {batch}, mean of "
          "{seeds} seed(s); accuracy on {test} test images").format(
            epochs=b.epochs, samples=number(b.samples, ","), batch=b.batch, seeds=b.seeds,
            test=number(b.test, ",")),
        (_("fix"), _("accuracy"), "Δ", _("cost"), _("first ÷ last"), _("effect")))
    table.columns[0].justify = "left"
    before = replay.before
    table.add_row(_("as it is"), number(before.final_accuracy, ".1%"), "",
                  fmt(before.final_cost, 3), fmt(before.speed_ratio, 2),
                  _("diverged") if before.diverged else "")
    styles = {"helps": "green", "hurts": "red", "no clear effect": "yellow"}
    for o in replay.outcomes:
        effect = _(_EFFECT_WORDS[o.effect]) if o.effect in _EFFECT_WORDS else o.effect
        table.add_row(o.suggestion.flags, number(o.run.final_accuracy, ".1%"),
                      number(o.accuracy_change, "+.1%"), fmt(o.run.final_cost, 3),
                      fmt(o.run.speed_ratio, 2),
                      f"[{styles[o.effect]}]{effect}[/]" + (" " + _("(diverged)")
                                                            if o.run.diverged else ""))
    out.print(table)
    out.print("[dim]" + _("replayed in {seconds} s").format(
        seconds=number(replay.seconds, ".1f")) + "[/]")


# The replay's effect words are identifiers in --json; people read them translated.
_EFFECT_WORDS = {"helps": N_("helps"), "hurts": N_("hurts"),
                 "no clear effect": N_("no clear effect")}


def _plot(result: Any, source: str, path: Path) -> None:
    if result.replay is not None:
        _plot_replay(result, source, path)
        return
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    layers = result.layers
    xs = [r.index for r in layers]
    speed = [r.speed if r.speed > 0 else float("nan") for r in layers]
    upd = [r.update_ratio if r.update_ratio else float("nan") for r in layers]
    ax1.bar(xs, speed, color="#2A6EA6", label=_("‖∂C/∂b‖ (speed of learning)"))
    ax1.plot(xs, upd, "o-", color="#FFA933", label=_("update/weight ratio"))
    ax1.set_yscale("log")
    ax1.set_xticks(xs)
    ax1.set_xlabel(_("layer (input side first)"))
    ax1.set_title(_("gradient size per layer"))
    ax1.legend(fontsize=8)
    ax1.grid(True, which="both", axis="y", alpha=0.3)
    sat = [r.saturated_fraction or 0.0 for r in layers]
    dead = [r.dead_fraction or 0.0 for r in layers]
    ax2.bar([x - 0.2 for x in xs], sat, width=0.4, color="#FF5555",
            label=_("saturated (σ/tanh)"))
    ax2.bar([x + 0.2 for x in xs], dead, width=0.4, color="#7F8C8D", label=_("dead (relu)"))
    ax2.axhline(0.5, color="black", linestyle=":", label=_("problem threshold 50%"))
    ax2.set_ylim(0, 1.05)
    ax2.set_xticks(xs)
    ax2.set_xlabel(_("layer (input side first)"))
    ax2.set_title(_("saturated inputs and dead units"))
    ax2.legend(fontsize=8)
    fig.suptitle(f"{source}: {verdict_text(result.verdict)}")
    save_figure(fig, path)


def _plot_replay(result: Any, source: str, path: Path) -> None:
    """Before/after: test accuracy per epoch for the setup as it is and each fix, and the
    final accuracies side by side."""
    plt = pyplot()
    replay = result.replay
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    as_it_is = _("as it is")
    runs = [(replay.before, as_it_is, "black")] + [
        (o.run, o.suggestion.flags, {"helps": "#2E8B57", "hurts": "#C0392B"}.get(o.effect,
                                                                              "#B8860B"))
        for o in replay.outcomes]
    for run, label, colour in runs:
        epochs = list(range(len(run.accuracy)))
        style = "--" if label == as_it_is else "-"
        ax1.plot(epochs, run.accuracy, style, marker="o", color=colour, label=label)
    ax1.set_xlabel(_("epoch"))
    ax1.set_ylabel(_("test accuracy"))
    ax1.set_ylim(0, 1)
    ax1.set_xticks(range(replay.budget.epochs + 1))
    ax1.set_title(_("before and after each fix"))
    ax1.legend(fontsize=7)
    ax1.grid(True, alpha=0.3)
    names = [label for _, label, _ in runs]
    ax2.barh(range(len(runs)), [run.final_accuracy for run, _, _ in runs],
             color=[colour for _, _, colour in runs])
    ax2.set_yticks(range(len(runs)))
    ax2.set_yticklabels(names, fontsize=7)
    ax2.invert_yaxis()
    ax2.set_xlim(0, 1)
    ax2.set_xlabel(_("test accuracy after {epochs} epoch(s)").format(
        epochs=replay.budget.epochs))
    ax2.set_title(_("measured effect"))
    fig.suptitle(f"{source}: {verdict_text(result.verdict)}")
    save_figure(fig, path)
