"""``nn.utils``: gradient clipping, as torch's."""

from chainrule.nn.torch_layers import clip_grad_norm_

__all__ = ["clip_grad_norm_"]
