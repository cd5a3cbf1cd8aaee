"""The web explorer behind ``chainrule serve``: a Starlette app and its hand-written page.

``create_app()`` (in :mod:`chainrule.web.server`) returns the app; the page under ``static/``
is plain HTML, CSS and JavaScript with no third-party code, so it works offline. The JSON API
answers with the same dicts as the CLI's ``--json``. Importing this package loads Starlette;
``import chainrule`` never does.
"""

from __future__ import annotations

from chainrule.web.server import Limits, create_app

__all__ = ["Limits", "create_app"]
