"""The doctor for PyTorch models: per-layer gradient flow, the first NaN, a verdict and fixes.

    import chainrule.torch
    d = chainrule.torch.diagnose(model, x, y, lr=0.1)   # one forward and backward, model untouched
    d.verdict, d.layers, d.findings, d.suggestions, d.first_nonfinite
    with chainrule.torch.watch(model) as w:             # around an ordinary training loop
        ...
    w.report().save_html("report.html")

The measurements become the same `chainrule.lab.verdict.LayerMeasures` a chainrule model gives,
and the same verdict engine judges them: one set of rules for both. Needs the optional extra
``pip install "chainrule[torch]"``; ``import chainrule`` never imports torch.
"""

from __future__ import annotations

from chainrule.torch.doctor import DoctorError, diagnose
from chainrule.torch.watch import Watch, watch

__all__ = ["DoctorError", "Watch", "diagnose", "watch"]
