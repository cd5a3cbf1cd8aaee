"""`chainrule data`: fetch full MNIST into the cache, describe the available data sets."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chainrule.commands._params import SECONDS
from chainrule.i18n import _


@click.group()
def data() -> None:
    """MNIST: the embedded sample and the full data set (downloaded on request)."""


@data.command()
@click.argument("name", type=click.Choice(["mnist"]))
@click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="URL",
    help="Base URL holding the four .gz files; repeat to try several in order "
    "(default: the known public mirrors).",
)
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    help="Target folder (default: $CHAINRULE_DATA/mnist or ~/.cache/chainrule/mnist).",
)
@click.option("--timeout", type=SECONDS, default=30.0, show_default=True,
              help="Seconds per connection.")
@click.option("--force", is_flag=True, help="Download again even if verified files are present.")
def fetch(
    name: str, mirrors: tuple[str, ...], dest: Path | None, timeout: float, force: bool
) -> None:
    """Download NAME (mnist: the four IDX files, 60,000 + 10,000 digits) and verify SHA-256."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    from chainrule.data import DEFAULT_MIRRORS, FetchError, fetch_mnist, mnist_dir

    console = Console(stderr=True)
    target = dest or mnist_dir()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, object] = {}

        def report(file: str, done: int, total: int | None) -> None:
            task = tasks.get(file)
            if task is None:
                task = tasks[file] = bar.add_task(file, total=total)
            bar.update(task, completed=done, total=total)  # type: ignore[arg-type]

        try:
            paths = fetch_mnist(
                mirrors or DEFAULT_MIRRORS,
                dest=target,
                timeout=timeout,
                progress=report,
                force=force,
            )
        except FetchError as exc:
            raise click.ClickException(str(exc)) from None
    for path in paths:
        click.echo(f"ok  {path}")
    click.echo(_("MNIST is ready in {path}; use it with `chainrule train --data mnist`.").format(
        path=target))


@data.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(as_json: bool) -> None:
    """Show the embedded sample and whether full MNIST is in the cache."""
    from chainrule.data import DataError, load, load_sample, mnist_dir

    rows = [load_sample().summary()]
    try:
        rows.append(load("mnist").summary())
    except DataError:
        rows.append({"name": "mnist", "missing": str(mnist_dir())})
    if as_json:
        click.echo(json.dumps({"cache": str(mnist_dir()), "datasets": rows}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=_("data sets (cache: {path})").format(path=mnist_dir()))
    cols = ("name", "train", "test", "features", "classes", "dtype")
    headings = (_("name"), _("train"), _("test"), _("features"), _("classes"), "dtype")
    for col in headings:
        table.add_column(col)
    for row in rows:
        if "missing" in row:
            table.add_row(row["name"], _("not downloaded: chainrule data fetch mnist"), "", "",
                          "", "")
        else:
            table.add_row(*(str(row[c]) for c in cols))
    Console().print(table)
