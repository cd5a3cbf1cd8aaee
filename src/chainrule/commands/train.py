"""`chainrule train`: train an MLP on MNIST with a progress bar, a table, checkpoints and plots."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from chainrule.commands._params import (
    BATCH,
    COUNT,
    LEARNING_RATE,
    LIMIT,
    MOMENTUM,
    NON_NEGATIVE,
    SEED,
    SIZES,
)
from chainrule.i18n import _, number

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu")
INIT_NAMES = ("nielsen-large", "nielsen", "xavier", "he", "uniform")
LOSS_NAMES = ("quadratic", "mse", "bce", "softmax")
OPTIMIZER_NAMES = ("sgd", "adam")
PREPROCESS_NAMES = ("raw", "scale", "standardize")
DEFAULT_INTERRUPT_NAME = "chainrule-checkpoint.npz"

# Options that define the run. They default to None so that --resume can tell "given" from
# "not given": unset options take the checkpoint's values (or TrainConfig's defaults).
RUN_OPTIONS = (
    "sizes activation init loss optimizer lr momentum weight_decay batch epochs seed data "
    "preprocess dtype limit"
).split()


def _free_path(name: str) -> Path:
    """``name`` in the current folder, or name-1, name-2, … if taken: never overwrite."""
    path = Path(name)
    i = 1
    while path.exists():
        path = Path(f"{Path(name).stem}-{i}{Path(name).suffix}")
        i += 1
    return path


def _table(history: list[Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for col in (_("epoch"), _("train cost"), _("test cost"), _("test accuracy"), _("seconds")):
        table.add_column(col, justify="right")
    for h in history:
        table.add_row(
            str(h.epoch),
            number(h.cost, ".5f"),
            number(h.test_cost, ".5f"),
            f"{h.correct} / {h.total} ({number(100 * h.test_accuracy, '.2f')}%)",
            number(h.seconds, ".2f"),
        )
    return table


def write_plot(history: list[Any], path: Path) -> None:
    """Cost and test accuracy per epoch, as a PNG/SVG/PDF (matplotlib's Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from chainrule import files

    epochs = [h.epoch for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [h.cost for h in history], marker="o", label=_("training"))
    ax1.plot(epochs, [h.test_cost for h in history], marker="o", label=_("test"))
    ax1.set_xlabel(_("epoch"))
    ax1.set_ylabel(_("cost"))
    ax1.legend()
    ax2.plot(epochs, [100 * h.test_accuracy for h in history], marker="o", color="C2")
    ax2.set_xlabel(_("epoch"))
    ax2.set_ylabel(_("test accuracy (%)"))
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    try:
        files.save_figure(fig, path, parents=True)
    finally:
        plt.close(fig)


@click.command()
@click.option("--sizes", type=SIZES, help="Layer sizes, inputs first: 784,30,10 (default).")
@click.option("--activation", type=click.Choice(ACTIVATION_NAMES), help="Hidden activation.")
@click.option("--init", type=click.Choice(INIT_NAMES), help="Weight initialisation (nielsen).")
@click.option(
    "--loss",
    type=click.Choice(LOSS_NAMES),
    help="Cost: quadratic (default, Nielsen's network.py, sigmoid output), mse, bce "
    "(Nielsen's cross-entropy), softmax (log-likelihood on a softmax output).",
)
@click.option("--optimizer", type=click.Choice(OPTIMIZER_NAMES), help="sgd (default) or adam.")
@click.option("--lr", type=LEARNING_RATE, help="Learning rate η (default 3.0).")
@click.option("--momentum", type=MOMENTUM, help="SGD momentum μ (default 0).")
@click.option("--weight-decay", type=NON_NEGATIVE,
              help="L2 weight decay (Nielsen's λ/n; default 0).")
@click.option("--batch", type=BATCH, help="Mini-batch size (default 10).")
@click.option("--epochs", type=COUNT,
              help="Epochs (default 30; with --resume: the new total).")
@click.option("--seed", type=SEED, help="Seed for initialisation and shuffling (default 0).")
@click.option("--data", help="sample (embedded, default), mnist (fetched) or a PATH.")
@click.option("--preprocess", type=click.Choice(PREPROCESS_NAMES), help="Input scaling (scale).")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), help="Float type (float64).")
@click.option("--limit", type=LIMIT, help="Train on the first N training examples only.")
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save model, optimizer, epoch and RNG state here (.npz) after every epoch.",
)
@click.option("--resume", is_flag=True, help="Continue the run saved in --checkpoint.")
@click.option("--overwrite", is_flag=True, help="Start afresh even if --checkpoint exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the history as one JSON object.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Plot to FILE.")
def train(
    checkpoint: Path | None,
    resume: bool,
    overwrite: bool,
    as_json: bool,
    plot: Path | None,
    **options: Any,
) -> None:
    """Train a fully connected network on MNIST by mini-batch gradient descent.

    The defaults are Nielsen's first network: sizes 784,30,10, sigmoid units, quadratic cost,
    batch 10, learning rate 3.0, 30 epochs. Ctrl-C stops after the current mini-batch, saves a
    checkpoint and prints how to resume.
    """
    from rich.console import Console

    from chainrule.data import DataError, load
    from chainrule.errors import ChainruleError
    from chainrule.nn.training import TrainConfig, Trainer

    given = {k: v for k, v in options.items() if v is not None}
    if resume and checkpoint is None:
        raise click.UsageError(_("--resume needs --checkpoint PATH (the file to continue)"))
    if checkpoint is not None and checkpoint.exists() and not (resume or overwrite):
        raise click.ClickException(_(
            "{path} exists: pass --resume to continue it, or --overwrite to start again"
        ).format(path=checkpoint))
    try:
        if resume:
            assert checkpoint is not None
            from chainrule.nn.checkpoint import read_checkpoint

            saved_data = read_checkpoint(checkpoint).meta.get("config", {}).get("data", "sample")
            data = load(given.get("data", saved_data))
            trainer = Trainer.resume(checkpoint, data, given)
        else:
            config = TrainConfig(**given)
            data = load(config.data)
            trainer = Trainer(config, data)
    except DataError as exc:
        raise click.ClickException(str(exc)) from None
    except ChainruleError as exc:
        raise click.ClickException(str(exc)) from None
    except TypeError as exc:  # e.g. a malformed checkpoint field
        raise click.ClickException(_("cannot start training: {error}").format(
            error=exc)) from None

    if checkpoint is not None:
        # A path that cannot be written is refused now, not after an epoch of work.
        from chainrule.nn.checkpoint import check_writable

        params = sum(v.nbytes for v in trainer.model.state_dict().values())
        try:
            check_writable(checkpoint, 2 * 3 * params + 2**20)
        except ChainruleError as exc:
            raise click.ClickException(str(exc)) from None

    config = trainer.config
    err = Console(stderr=True)
    out = Console()
    if not as_json:
        sizes = ",".join(map(str, config.sizes))
        err.print(_(
            "training {sizes} {activation} ({init} init), {loss} cost, {optimizer} lr {lr}, "
            "batch {batch}, {train} training / {test} test digits ({data})"
        ).format(sizes=sizes, activation=config.activation, init=config.init, loss=config.loss,
                 optimizer=config.optimizer, lr=number(config.lr, "g"), batch=config.batch,
                 train=len(trainer.train_y), test=len(trainer.test_y), data=data.name))
        if resume:
            err.print(_("resuming at epoch {epoch}, batch {batch} of {path}").format(
                epoch=trainer.progress.epoch + 1, batch=trainer.progress.batch,
                path=checkpoint))

    interrupt_path = None if checkpoint else _free_path(DEFAULT_INTERRUPT_NAME)
    try:
        result = _run_with_progress(trainer, checkpoint, interrupt_path, err, quiet=as_json)
    except OSError as exc:  # the disk filled up or the folder went away during the run
        where = exc.filename or checkpoint or interrupt_path
        raise click.ClickException(_("cannot write checkpoint {path}: {error}").format(
            path=where, error=exc.strerror or exc)) from None

    history = result.history
    if plot is not None and history:
        try:
            write_plot(history, plot)
        except (OSError, ValueError) as exc:
            raise click.ClickException(_("cannot write plot {path}: {error}").format(
                path=plot, error=exc)) from None
    if as_json:
        payload = result.to_json()
        payload["plot"] = None if plot is None else str(plot)
        click.echo(json.dumps(payload))
    else:
        if history:
            out.print(_table(history, _("{loss} cost, {data} data").format(
                loss=config.loss, data=data.name)))
        if plot is not None and history:
            out.print(_("plot written to {path}").format(path=plot))
    if result.interrupted:
        where = result.checkpoint
        msg = _(
            "interrupted at epoch {epoch}, batch {batch}; checkpoint saved to {path}\n"
            "resume with: chainrule train --resume --checkpoint {path}"
        ).format(epoch=result.epoch + 1, batch=result.batch, path=where)
        click.echo(msg, err=True)  # plain echo: a wrapped path could not be copied
        sys.exit(130)


def _run_with_progress(
    trainer: Any, checkpoint: Path | None, interrupt_path: Path | None, err: Any, quiet: bool
) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    n_batches = -(-len(trainer.train_y) // trainer.config.batch)
    with Progress(
        TextColumn(_("epoch") + " {task.fields[epoch]}/{task.fields[total_epochs]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(_("batches")),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet,
    ) as bar:
        task = bar.add_task(
            "train",
            total=n_batches,
            completed=trainer.progress.batch,
            epoch=trainer.progress.epoch + 1,
            total_epochs=trainer.config.epochs,
        )

        def on_batch(t: Any, done: int, total: int) -> None:
            bar.update(task, completed=done)

        def on_epoch(t: Any, stats: Any) -> None:
            if not quiet:
                bar.console.print(_(
                    "epoch {epoch}: cost {cost}, test {correct} / {total} ({accuracy}%), "
                    "{seconds}s").format(
                        epoch=stats.epoch, cost=number(stats.cost, ".5f"),
                        correct=stats.correct, total=stats.total,
                        accuracy=number(100 * stats.test_accuracy, ".2f"),
                        seconds=number(stats.seconds, ".2f")))
            if stats.epoch < trainer.config.epochs:
                # reset() replaces every field, so all of them are given again.
                bar.reset(
                    task,
                    total=n_batches,
                    epoch=stats.epoch + 1,
                    total_epochs=trainer.config.epochs,
                )

        return trainer.run(
            checkpoint=checkpoint,
            interrupt_path=interrupt_path,
            on_batch=on_batch,
            on_epoch=on_epoch,
        )
