"""``chainrule chain``: Nielsen's chain of sigmoid neurons, its gradient two ways, its regimes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from chainrule import files
from chainrule.commands._lab import (
    JSON_HELP,
    PLOT_HELP,
    console,
    emit_json,
    floats,
    fmt,
    lab_errors,
    progress_bar,
    pyplot,
    save_figure,
)
from chainrule.commands._params import ANY_NUMBER, FLOATS, SEED
from chainrule.i18n import N_, _, number

EXAMPLES: dict[str, tuple[list[float], list[float], float]] = {
    # Every z is 0, every factor 100·σ'(0) = 25: ∂C/∂b1 = 625·∂C/∂b3.
    "exploding": ([100.0, 100.0, 100.0, 100.0], [-100.0, -50.0, -50.0, -50.0], 1.0),
    "vanishing": ([0.8, -0.6, 1.3, 0.4], [0.1, -0.3, 0.5, -0.2], 1.0),
}

# Regime words are identifiers in --json; plots name them in the reader's language.
_REGIMES = {"vanishing": N_("vanishing gradient"), "exploding": N_("exploding gradient"),
            "mixed": N_("mixed gradient")}

_EPILOG = """\b
Examples:
  chainrule chain --weights 0.8,-0.6,1.3,0.4 --biases 0.1,-0.3,0.5,-0.2 --input 1 --target 0
  chainrule chain --weights 100,100,100,100 --biases -100,-50,-50,-50 --input 1
  chainrule chain --layers 6 --seed 3 --svg chain.svg
  chainrule chain --monte-carlo 100000 --plot chain-mc.png
"""


@click.command("chain", epilog=_EPILOG)
@click.option("--weights", type=FLOATS, metavar="W1,W2,…",
              help="One weight per layer (comma-separated).")
@click.option("--biases", type=FLOATS, metavar="B1,B2,…",
              help="One bias per layer (comma-separated).")
@click.option("--input", "x", type=ANY_NUMBER, default=1.0, show_default=True,
              help="The input x fed to the first neuron.")
@click.option("--target", "y", type=ANY_NUMBER, default=0.0, show_default=True,
              help="The target y of the cost.")
@click.option("--layers", type=click.IntRange(2, 10_000), default=4, show_default=True,
              help="Number of neurons of a random chain (without --weights).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of a random chain.")
@click.option("--init", type=click.Choice(["normal"]), default="normal", show_default=True,
              help="Distribution of a random chain's weights and biases: N(0, 1).")
@click.option("--example", type=click.Choice(sorted(EXAMPLES)),
              help="A chain from the text: exploding (every factor 25) or vanishing.")
@click.option("--cost", type=click.Choice(["quadratic", "cross-entropy"]), default="quadratic",
              show_default=True)
@click.option("--monte-carlo", "monte_carlo", type=click.IntRange(1, 1_000_000), metavar="N",
              help="Also draw N random chains and show the distribution of the factors and of "
                   "∂C/∂b1 / ∂C/∂b3.")
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the 'network as a mnemonic' picture of ∂C/∂b1 to an SVG file.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help=PLOT_HELP + " Per-layer |∂C/∂b|; with --monte-carlo, the histograms.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def chain(
    weights: str | None,
    biases: str | None,
    x: float,
    y: float,
    layers: int,
    seed: int,
    init: str,
    example: str | None,
    cost: str,
    monte_carlo: int | None,
    svg_path: Path | None,
    plot_path: Path | None,
    as_json: bool,
) -> None:
    """One sigmoid neuron per layer: ∂C/∂b_j by backprop and as Nielsen's product
    σ'(z_j)·Π w_k σ'(z_k)·∂C/∂a_L, the factor each layer applies, and what they mean."""
    from chainrule.lab import chain as lab

    if (weights is None) != (biases is None):
        raise click.UsageError(_("give both --weights and --biases (one of each per layer)"))
    if example is not None and weights is not None:
        raise click.UsageError(_("give either --example or --weights/--biases, not both"))
    with lab_errors():
        if example is not None:
            ws, bs, x = EXAMPLES[example]
        elif weights is not None and biases is not None:
            ws, bs = floats(weights, "--weights"), floats(biases, "--biases")
        else:
            ws, bs = lab.random_chain(layers, seed, init)
        result = lab.run_chain(ws, bs, x=x, y=y, cost=cost)
        mc = None
        if monte_carlo is not None:
            label = _("{count} random chains").format(count=number(monte_carlo, ","))
            with progress_bar(label, not as_json) as update:
                update(0, 1)
                mc = lab.monte_carlo(monte_carlo, layers=max(len(ws), 3), seed=seed)
                update(1, 1)
    written: list[str] = []
    if svg_path is not None:
        try:
            files.write_bytes(svg_path, lab.mnemonic_svg(result).encode("utf-8"))
        except OSError as exc:
            raise click.FileError(str(svg_path), hint=exc.strerror or str(exc)) from None
        written.append(str(svg_path))
    if plot_path is not None:
        _plot(result, mc, plot_path)
        written.append(str(plot_path))
    if as_json:
        data: dict[str, Any] = dict(result)
        if mc is not None:
            data["monte_carlo"] = mc
        emit_json(data)
        return
    _show(result, mc, written)


def _mnemonic_lines(result: dict[str, Any]) -> tuple[str, str]:
    from chainrule.lab.chain import mnemonic_terms

    terms = mnemonic_terms(result, 1)
    syms, nums = [], []
    for sym, val in terms:
        num = "∞" if val is None else number(val, ".4g")
        width = max(len(sym), len(num))
        syms.append(sym.center(width))
        nums.append(num.center(width))
    head = "∂C/∂b1 = "
    return head + " × ".join(syms), " " * (len(head) - 2) + "= " + "   ".join(nums)


def _show(result: dict[str, Any], mc: dict[str, Any] | None, written: list[str]) -> None:
    from rich import box
    from rich.table import Table

    out = console()
    n = len(result["layers"])
    # The title is a line of its own: a table title is cut at the table's width.
    out.print(_("a chain of {n} sigmoid neurons: z = w·a + b, a = σ(z); x = {x}, y = {y}, "
                "{cost} cost").format(n=n, x=fmt(result["x"]), y=fmt(result["y"]),
                                      cost=result["cost"]))
    table = Table()
    table.box = box.SIMPLE_HEAD
    table.pad_edge = False
    table.padding = (0, 1)
    for col in ("j", "w", "b", "z", "a", "σ'(z)", "w·σ'(z)", _("∂C/∂b graph"),
                _("∂C/∂b product")):
        table.add_column(col, justify="right", min_width=10 if col.startswith("∂") else None)
    for j, row in enumerate(result["layers"]):
        factor = row["factor"]
        style = "red" if abs(factor) > 1 else "blue"
        table.add_row(
            str(j + 1), fmt(row["w"], 3), fmt(row["b"], 3), fmt(row["z"], 3), fmt(row["a"], 3),
            fmt(row["sigma_prime"], 3), f"[{style}]{fmt(factor, 3)}[/]",
            fmt(result["grad_b_autodiff"][j], 4), fmt(result["grad_b_formula"][j], 4),
        )
    out.print(table)
    agree = ("[green]" + _("agree") + "[/]") if result["agree"] else \
        ("[red]" + _("DISAGREE") + "[/]")
    out.print(_("the two computations {agree} (largest difference {difference})").format(
        agree=agree, difference=number(result["max_abs_difference"], ".2g")))
    top, bottom = _mnemonic_lines(result)
    out.print()
    out.print(top)
    out.print(bottom)
    out.print(f"{' ' * 7}= {number(result['grad_b_autodiff'][0], '.7g')}")
    out.print()
    ratio = result["ratio_b1_b3"]
    if ratio is not None:
        shown = number(ratio, ".6g") if abs(ratio) >= 1 else number(ratio, ".4g")
        out.print(f"∂C/∂b1 / ∂C/∂b3 = [bold]{shown}[/]")
    colour = {"vanishing": "blue", "exploding": "red"}.get(result["regime"], "yellow")
    head, _colon, rest = result["sentence"].partition(":")
    out.print(f"[bold {colour}]{head}:[/]{rest}")
    if mc is not None:
        _show_mc(out, mc)
    for path in written:
        out.print(_("wrote {path}").format(path=path))


def percent(fraction: float) -> str:
    """A fraction as a percentage with two decimals that never rounds to 0% or 100%.

    ``0.99999`` is ``>99.99%`` (not ``100.00%``), ``1e-6`` is ``<0.01%``; exactly 0 and 1 stay
    ``0%`` and ``100%``.
    """
    if fraction >= 1.0:
        return "100%"
    if fraction <= 0.0:
        return "0%"
    if fraction > 0.9999:
        return ">" + number(99.99, "g") + "%"
    if fraction < 0.0001:
        return "<" + number(0.01, "g") + "%"
    return number(fraction, ".2%")


def _show_mc(out: Any, mc: dict[str, Any]) -> None:
    from rich.table import Table

    out.print(_mc_title(mc))
    table = Table()
    table.add_column(_("quantity"))
    table.add_column(_("value"), justify="right")
    q = mc["ratio_quantiles"]
    rows = [
        (_("fraction of |w·σ'(z)| below 1/4"),
         number(mc["fraction_factor_below_quarter"], ".1%")),
        (_("fraction of |w| below 1 (each such factor is < 1/4)"),
         number(mc["fraction_weight_below_one"], ".1%")),
        (_("fraction of |w·σ'(z)| below 1"), percent(mc["fraction_factor_below_one"])),
        (_("median / largest |w·σ'(z)|"),
         f"{fmt(mc['median_abs_factor'])} / {fmt(mc['max_abs_factor'])}"),
        (_("median |∂C/∂b1 / ∂C/∂b3|"), fmt(mc["median_abs_ratio_b1_b3"])),
        (_("5% … 95% quantiles of that ratio"), f"{fmt(q['q05'])} … {fmt(q['q95'])}"),
        (_("fraction with |∂C/∂b1| < |∂C/∂b3| / 16"),
         number(mc["fraction_ratio_below_1_16"], ".1%")),
        (_("fraction with |∂C/∂b1| > |∂C/∂b3|"), percent(mc["fraction_ratio_above_1"])),
    ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    out.print("[dim]" + _("{bound}: with |w| < 1, as N(0, 1) weights mostly are, every factor "
                          "shrinks the gradient by 4× or more.").format(bound=_(mc["factor_bound"]))
              + "[/]")


def _mc_title(mc: dict[str, Any]) -> str:
    return _("{count} random chains of {layers} neurons, weights and biases N(0, 1)").format(
        count=number(mc["n"], ","), layers=mc["layers"])


def _plot(result: dict[str, Any], mc: dict[str, Any] | None, path: Path) -> None:
    plt = pyplot()
    if mc is None:
        fig, ax = plt.subplots(figsize=(7, 4))
        n = len(result["layers"])
        xs = list(range(1, n + 1))
        auto = [abs(g) for g in result["grad_b_autodiff"]]
        product = [abs(g) for g in result["grad_b_formula"]]
        ax.bar(xs, auto, color="#2A6EA6", label=_("|∂C/∂b_j| by backprop"))
        ax.plot(xs, product, "o", color="#FFA933", label=_("Nielsen's product"))
        for j, row in enumerate(result["layers"][1:], start=2):
            ax.annotate("×" + number(abs(row["factor"]), ".3g"),
                        (j - 0.5, max(auto[j - 2], auto[j - 1])),
                        ha="center", va="bottom", fontsize=8, color="#555")
        ax.set_yscale("log")
        ax.set_xticks(xs, [f"b{j}" for j in xs])
        ax.set_xlabel(_("bias of neuron j (input side first)"))
        ax.set_ylabel(_("|∂C/∂b_j| (log scale)"))
        regime = result["regime"]
        ax.set_title(_("Chain of {n} sigmoid neurons: {regime}").format(
            n=n, regime=_(_REGIMES[regime]) if regime in _REGIMES else f"{regime} gradient"))
        ax.legend(loc="best", fontsize=8)
        ax.grid(True, which="both", axis="y", alpha=0.3)
    else:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
        for ax, key, line, label, title in (
            (ax1, "factor_histogram", 0.25, "1/4 = σ'(0)", _("|w·σ'(z)| of every layer")),
            (ax2, "ratio_histogram", 1 / 16, "1/16", "|∂C/∂b1 / ∂C/∂b3|"),
        ):
            hist = mc[key]
            edges, counts = hist["edges"], hist["counts"]
            if counts:
                widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
                ax.bar(edges[:-1], counts, width=widths, align="edge", color="#2A6EA6")
            ax.axvline(line, color="#c0392b", linestyle="--", label=label)
            ax.set_xscale("log")
            ax.set_title(title)
            ax.set_ylabel(_("chains") if key == "ratio_histogram" else _("factors"))
            ax.legend(fontsize=8)
        fig.suptitle(_mc_title(mc))
    save_figure(fig, path)
