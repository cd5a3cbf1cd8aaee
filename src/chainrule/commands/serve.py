"""``chainrule serve``: the web explorer on this computer (Starlette + uvicorn)."""

from __future__ import annotations

import errno
import socket
import webbrowser
from typing import Any

import click

from chainrule.commands._params import PORT
from chainrule.i18n import _

LOOPBACK = ("127.0.0.1", "localhost", "::1")
"""Hosts that keep the explorer on this computer; with one of them, other Host headers are
refused (a web page elsewhere cannot reach the explorer through DNS rebinding)."""


def _url(server: Any, host: str, port: int) -> str:
    """The address the server really listens on (port 0 means the system chose one)."""
    for s in getattr(server, "servers", []):
        for sock in getattr(s, "sockets", []):
            port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def check_port(host: str, port: int) -> None:
    """Refuse, with a message suggesting ``--port``, an address the server could not listen on.

    Binds a probe socket the way uvicorn will (``SO_REUSEADDR``) and closes it at once.
    """
    if port == 0:
        return
    try:
        family, kind, proto, _canonical, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise click.ClickException(_("cannot listen on {host}: {error}").format(
            host=host, error=exc)) from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except PermissionError:
            raise click.ClickException(_(
                "no permission to listen on port {port} (ports below 1024 need administrator "
                "rights); choose another with --port, or --port 0 for a free one").format(
                    port=port)) from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(_(
                    "port {port} on {host} is already in use (another explorer or another "
                    "program listens there); choose another with --port, or --port 0 for a "
                    "free one").format(port=port, host=host)) from None
            raise click.ClickException(_("cannot listen on {host}: {error}").format(
                host=f"{host}:{port}", error=exc.strerror)) from None


def make_server(app: Any, host: str, port: int, open_browser: bool) -> Any:
    """A uvicorn server for ``app`` that prints its address (and opens it) once it listens."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.should_exit:  # the port could not be bound: uvicorn said why
                return
            url = _url(self, host, port)
            click.echo(_("chainrule explorer on {url}  (Ctrl-C stops it)").format(url=url))
            if open_browser:
                webbrowser.open(url)

    return Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The default keeps the explorer on this computer.")
@click.option("--port", default=8000, show_default=True, type=PORT,
              help="Port to listen on (0 picks a free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
def serve(host: str, port: int, open_browser: bool) -> None:
    """Open the web explorer: circuits with a step-through backward pass, the vanishing
    gradient with sliders, and live training curves.

    Everything runs on this computer; the page loads nothing from the network.
    """
    from chainrule.web import create_app

    loopback = host in LOOPBACK
    if not loopback:
        click.echo(_("warning: listening on {host}: anyone who can reach this address can use "
                     "the explorer (and start training runs)").format(host=host), err=True)
    allowed = ["127.0.0.1", "localhost", "[::1]", "::1"] if loopback else None
    check_port(host, port)
    server = make_server(create_app(allowed_hosts=allowed), host, port, open_browser)
    server.run()
