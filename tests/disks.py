"""Small file systems of their own, to fill up: tmpfs, which needs root, as the suite has."""

from __future__ import annotations

import contextlib
import errno
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A file system of `size` (tmpfs) at `where`, created, reachable by other users."""
    where.mkdir(parents=True)
    where.parent.chmod(0o755)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Leaves `leave` bytes free (tmpfs: written, not sparse); removing the file frees the rest."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            f.write(b"\0" * max(0, shutil.disk_usage(disk).free - leave))
        except OSError as err:  # full already, by a little: that is what was wanted
            if err.errno != errno.ENOSPC:
                raise
    return filler
