"""A job's input files, before its command starts: fetched (from the orchestrator, or from an
https:// URL), checked against their sha256, and placed in the working directory.

Any failure fails the job as an infrastructure failure, with the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
import tempfile
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from laino.v1 import laino_pb2 as pb

PIECE = 1 << 20
URL_SECONDS = 60


class InputFailed(RuntimeError):
    """An input could not be placed: says which and why."""


async def place(
    inputs: list[pb.JobInput],
    root: Path,
    fetch: Callable[[int], AsyncIterator[bytes]],
    limit: int,
) -> None:
    """Each input at its path under `root`, whole and checked, or InputFailed."""
    base = root.resolve()
    for index, given in enumerate(inputs):
        target = base / given.path
        try:
            # Resolved before any folder is made: a link in the way must not lead out.
            if not target.parent.resolve().is_relative_to(base):
                raise InputFailed("a link leads outside the working directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            if given.source.startswith("https://"):
                pieces = _url(given.source, limit)
            else:
                pieces = fetch(index)
            await _write(target, pieces, given.sha256, limit)
        except InputFailed as err:
            raise InputFailed(f"input {given.source} -> {given.path}: {err}") from None
        except Exception as err:  # the network, the orchestrator, the disk
            raise InputFailed(f"input {given.source} -> {given.path}: {err}") from None


async def _write(target: Path, pieces: AsyncIterator[bytes], expected: str, limit: int) -> None:
    digest = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".laino-input-")
    try:
        with os.fdopen(fd, "wb") as file:
            async for piece in pieces:
                size += len(piece)
                if limit and size > limit:
                    raise InputFailed(f"more than {limit} bytes (the server's --artifact-limit)")
                digest.update(piece)
                file.write(piece)
        if expected and digest.hexdigest() != expected:
            raise InputFailed(f"sha256 {digest.hexdigest()}, not the {expected} expected")
        os.chmod(name, 0o644)  # the job may run as another user
        os.replace(name, target)
    finally:
        if os.path.exists(name):
            os.unlink(name)


async def _url(url: str, limit: int) -> AsyncIterator[bytes]:
    """An https:// URL's body, read in a thread, never more than `limit` bytes."""
    trusted = ssl.create_default_context()
    if os.environ.get("LAINO_INPUTS_CA_PEM"):  # the server's --inputs-ca
        trusted.load_verify_locations(cadata=os.environ["LAINO_INPUTS_CA_PEM"])
    response = await asyncio.to_thread(
        urllib.request.urlopen, url, timeout=URL_SECONDS, context=trusted
    )
    try:
        if response.status != 200:
            raise InputFailed(f"HTTP {response.status}")
        declared = response.headers.get("content-length")
        if limit and declared and declared.isdigit() and int(declared) > limit:
            raise InputFailed(
                f"{declared} bytes, more than {limit} (the server's --artifact-limit)"
            )
        while piece := await asyncio.to_thread(response.read, PIECE):
            yield piece
    finally:
        response.close()
