"""`chainrule demo`: both engines in thirty seconds — a scalar circuit and a tensor MLP step."""

from __future__ import annotations

import click

from chainrule.i18n import _, number


@click.command()
def demo() -> None:
    """Backpropagate through CS231n's (x+y)·z circuit and one step of a small tensor MLP."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    import chainrule as cr

    console = Console()
    x, y, z = cr.Value(-2.0, label="x"), cr.Value(5.0, label="y"), cr.Value(-4.0, label="z")
    q = x + y
    f = q * z
    f.backward()
    table = Table(title=_("Scalar engine: f = (x + y)·z at x=−2, y=5, z=−4"))
    for column in (_("node"), _("value"), "∂f/∂node"):
        table.add_column(column, justify="right")
    for name, node in (("x", x), ("y", y), ("z", z), ("q = x+y", q), ("f = q·z", f)):
        table.add_row(name, number(node.data, "g"), number(node.grad, "g"))
    console.print(table)
    console.print(_("add distributes the gradient (x and y both get ∂f/∂q = z = −4); "
                    "multiply swaps its inputs (∂f/∂z = q = 3).") + "\n")

    rng = np.random.default_rng(0)
    inputs = cr.tensor(rng.standard_normal((4, 3)))
    w = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    loss = (inputs @ w).sigmoid().sum()
    loss.backward()
    ok = cr.gradcheck(lambda weights: (inputs @ weights).sigmoid().sum(), [w])
    console.print(_("Tensor engine: loss = Σσ(XW) = {loss}; ∂loss/∂W has shape {shape}, "
                    "gradcheck against central differences: {result}.").format(
        loss=number(loss.item(), ".6f"), shape=w.grad.shape if w.grad is not None else None,
        result=_("passed") if ok else _("failed")))
