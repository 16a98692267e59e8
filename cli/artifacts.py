"""`laino job artifacts` and `laino job download`: the files a job kept (its --output)."""

from __future__ import annotations

import contextlib
import os
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click

from laino.cli.client import jobs_stub, output_option, reports_errors, server_option
from laino.cli.output import emit_json, table
from laino.v1 import laino_pb2 as pb


@click.command()
@click.argument("job_id")
@output_option
@server_option
@reports_errors
def artifacts(job_id: str, output: str, server: str) -> None:
    """List the files a job kept: path, size, sha256."""
    found = jobs_stub(server).ListArtifacts(pb.ListArtifactsRequest(job_id=job_id)).artifacts
    if output == "json":
        emit_json([{"path": a.path, "size": a.size, "sha256": a.sha256} for a in found])
        return
    table(["PATH", "SIZE", "SHA256"], [[a.path, str(a.size), a.sha256] for a in found])


@click.command()
@click.argument("job_id")
@click.argument("path", required=False)
@click.option("--all", "everything", is_flag=True, help="Every file it kept, as one tar.")
@click.option(
    "-o",
    "--out",
    "target",
    default="",
    help="The file or folder to write [PATH's name; -: stdout].",
)
@server_option
@reports_errors
def download(job_id: str, path: str | None, everything: bool, target: str, server: str) -> None:
    """Fetch one file a job kept, byte for byte, or --all of them as a tar."""
    if everything == bool(path):
        raise click.UsageError("give a PATH, or --all")
    stub = jobs_stub(server)
    if path:
        name = _into(target, Path(path).name)
        with _opened(name) as out:
            for piece in stub.DownloadArtifact(
                pb.DownloadArtifactRequest(job_id=job_id, path=path)
            ):
                out.write(piece.data)
        return
    listed = stub.ListArtifacts(pb.ListArtifactsRequest(job_id=job_id)).artifacts
    name = _into(target, f"{job_id}-artifacts.tar")
    with _opened(name) as out, tarfile.open(fileobj=out, mode="w|") as tar:
        for artifact in listed:
            info = tarfile.TarInfo(artifact.path)
            info.size, info.mtime, info.mode = artifact.size, int(artifact.created_at), 0o644
            request = pb.DownloadArtifactRequest(job_id=job_id, path=artifact.path)
            pieces = (piece.data for piece in stub.DownloadArtifact(request))
            tar.addfile(info, _Pieces(pieces))


def _into(target: str, default: str) -> str:
    """Where to write: the file named, or the default name in the current folder or in the
    folder named (as cp does)."""
    if target and target != "-" and Path(target).is_dir():
        return str(Path(target) / default)
    return target or default


@contextlib.contextmanager
def _opened(name: str) -> Iterator[IO[bytes]]:
    """The file to write, or stdout. A regular file is written beside its name and takes the
    name only once every byte has come: a download that fails leaves nothing, and never
    half-overwrites a file the user already had. A device or a pipe is written as it is."""
    if name == "-":
        yield sys.stdout.buffer
        return
    target = Path(os.path.realpath(name))  # through a link, as cp writes
    try:
        if target.exists() and not target.is_file():
            with open(target, "wb") as device:
                yield device
            return
        with tempfile.NamedTemporaryFile(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
        ) as out:
            try:
                yield out
            except BaseException:
                os.unlink(out.name)
                raise
        os.chmod(out.name, 0o666 & ~_umask())
        os.replace(out.name, target)
    except OSError as err:  # no such folder, no permission, a full disk
        raise click.ClickException(f"cannot write {name}: {err.strerror}") from err


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Pieces:
    """A file-like read over a stream of byte pieces, for tarfile (which reads 16 KiB at a
    time: each piece is read through, not copied again for each read)."""

    def __init__(self, pieces: Iterator[bytes]):
        self.pieces = pieces
        self.piece = b""
        self.at = 0

    def read(self, size: int = -1) -> bytes:
        taken = []
        while size != 0:
            if self.at == len(self.piece):
                self.piece, self.at = next(self.pieces, b""), 0
                if not self.piece:
                    break
            end = len(self.piece) if size < 0 else min(len(self.piece), self.at + size)
            taken.append(self.piece[self.at : end])
            size -= (end - self.at) if size > 0 else 0
            self.at = end
        return b"".join(taken)
