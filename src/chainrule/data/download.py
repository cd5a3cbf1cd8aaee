"""Download the four MNIST IDX files into a local cache, verified by SHA-256.

Cache folder: ``$CHAINRULE_DATA`` when set, else ``~/.cache/chainrule``; MNIST goes into its
``mnist/`` subfolder. Each file is tried on every mirror in turn until one serves bytes whose
SHA-256 equals the known digest. Bytes stream into a temporary file in the same folder, which is
renamed over the target only after the digest matched (`os.replace` is atomic on one file
system), so an interrupted or corrupt download never leaves a half-written file under the real
name. Only the standard library is used (urllib), so fetching adds no dependency.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from chainrule.data.dataset import DataError
from chainrule.i18n import _

# SHA-256 of the four standard gzipped MNIST files (the same bytes on every mirror).
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
}

# Tried in order. yann.lecun.com is the original home but often refuses downloads now.
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

CHUNK = 1 << 16

# progress(file name, bytes received so far, total bytes or None when the server does not say)
Progress = Callable[[str, int, "int | None"], None]


class FetchError(DataError):
    """No mirror delivered a file with the expected digest; the message says where to put it."""


def cache_dir() -> Path:
    """The chainrule data cache: ``$CHAINRULE_DATA``, else ``~/.cache/chainrule``."""
    env = os.environ.get("CHAINRULE_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "chainrule"


def mnist_dir() -> Path:
    """Where `fetch_mnist` puts the IDX files and ``load("mnist")`` reads them."""
    return cache_dir() / "mnist"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(
    url: str, target: Path, sha256: str, timeout: float, progress: Progress | None
) -> None:
    """Fetch ``url`` into ``target`` atomically; raise `FetchError` unless the digest matches."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if progress:
                progress(target.name, 0, total)
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if progress:
                    progress(target.name, received, total)
        if total is not None and received != total:
            raise FetchError(_(
                "truncated: received {received:,} of {total:,} bytes").format(
                    received=received, total=total))
        got = digest.hexdigest()
        if got != sha256:
            raise FetchError(_(
                "checksum mismatch: sha256 {got}, expected {sha256}").format(
                    got=got, sha256=sha256))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(
    files: Mapping[str, str],
    dest: Path,
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    *,
    timeout: float = 30.0,
    progress: Progress | None = None,
    force: bool = False,
) -> list[Path]:
    """Make sure every ``name → sha256`` in ``files`` is in ``dest`` with that digest.

    Files already present with the right digest are kept (no network). Returns the paths.
    Raises `FetchError` listing each mirror's failure and where to put the files by hand.
    """
    if not mirrors:
        raise FetchError(_("no mirrors given"))
    dest.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, sha256 in files.items():
        target = dest / name
        if not force and target.is_file() and sha256_file(target) == sha256:
            paths.append(target)
            continue
        failures: list[str] = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            try:
                _download(url, target, sha256, timeout, progress)
                break
            except FetchError as exc:
                failures.append(f"  {url}: {exc}")
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                failures.append(f"  {url}: {type(exc).__name__}: {reason}")
        else:
            raise FetchError(
                _("could not download {name}:").format(name=name) + "\n" + "\n".join(failures)
                + "\n" + _(
                "If this machine is offline, download the files elsewhere and put them in\n"
                "  {dest}\n(names: {names}), or point CHAINRULE_DATA at a folder "
                "whose mnist/ subfolder holds them.").format(dest=dest, names=", ".join(files))
            )
        paths.append(target)
    return paths


def fetch_mnist(
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    *,
    dest: Path | None = None,
    sha256: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    progress: Progress | None = None,
    force: bool = False,
) -> list[Path]:
    """Download the four MNIST IDX files into ``mnist_dir()`` (or ``dest``).

    ``sha256`` overrides the known digests (tests serve generated files); by default the
    standard files' digests are checked.
    """
    return fetch(
        sha256 or MNIST_SHA256,
        dest or mnist_dir(),
        mirrors,
        timeout=timeout,
        progress=progress,
        force=force,
    )
