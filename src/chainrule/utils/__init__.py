"""torch.utils's counterpart: ``chainrule.utils.data`` (datasets and the ``DataLoader``)."""

from chainrule.utils import data

__all__ = ["data"]
