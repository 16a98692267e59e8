"""Memory and CPU limits for local workers, through the kernel's control groups.

Each worker gets a group of its own under laino's, below the server's own group: cgroup v2
where its memory and cpu controllers may be used, else cgroup v1's memory and cpu
hierarchies. Where neither can be written (no root, no delegated subtree), `find` says why,
and a job asking for a limit is refused rather than run without it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


class CgroupsUnavailable(Exception):
    """Limits cannot be enforced here; the message says why."""


@dataclass(frozen=True)
class Cgroups:
    """Where laino's groups live: one folder (v2), or one per hierarchy (v1: memory, cpu)."""

    v2: bool
    memory: Path
    cpu: Path

    @classmethod
    def find(cls, installation: str, root: Path = ROOT) -> Cgroups:
        """laino's groups, created if need be; raises CgroupsUnavailable with the reason."""
        own = _own_groups()
        name = f"laino-{installation}"
        unified = root if (root / "cgroup.controllers").exists() else root / "unified"
        controllers = _read(unified / own.get("", "/").lstrip("/") / "cgroup.controllers")
        if {"memory", "cpu"} <= set(controllers.split()):
            return cls._v2(unified / own[""].lstrip("/") / name)
        memory, cpu = root / "memory", root / "cpu"
        if (memory / "memory.limit_in_bytes").exists() and (cpu / "cpu.cfs_quota_us").exists():
            groups = cls(
                False,
                memory / own.get("memory", "/").lstrip("/") / name,
                cpu / own.get("cpu", own.get("cpu,cpuacct", "/")).lstrip("/") / name,
            )
            for folder in (groups.memory, groups.cpu):
                _make(folder)
            return groups
        raise CgroupsUnavailable(
            "this machine's cgroups offer no memory and cpu controllers that laino may use"
        )

    @classmethod
    def _v2(cls, folder: Path) -> Cgroups:
        with contextlib.suppress(OSError):  # the server's own group, if it may (its root)
            (folder.parent / "cgroup.subtree_control").write_text("+memory +cpu")
        _make(folder)
        try:  # the groups inside laino's get both controllers
            (folder / "cgroup.subtree_control").write_text("+memory +cpu")
        except OSError as err:
            raise CgroupsUnavailable(f"cannot delegate controllers in {folder}: {err}") from err
        return cls(True, folder, folder)

    def create(self, worker: str, *, memory_bytes: int, cpu: float) -> None:
        """The worker's group, with its limits; 0 leaves one unlimited.

        The memory hierarchy holds every worker, limited or not: its list of processes is how a
        worker is ended whole. A group in v1's cpu hierarchy costs each wake-up of the worker's
        processes some scheduling, so a worker is put there only to hold it to --cpu.
        """
        memory, cpus = self.memory / worker, self.cpu / worker
        for folder in {memory, cpus} if cpu else {memory}:
            _make(folder)
        if self.v2:
            if memory_bytes:
                _write(memory / "memory.max", str(memory_bytes))
                _write(memory / "memory.swap.max", "0")
            if cpu:
                _write(cpus / "cpu.max", f"{max(1000, int(cpu * PERIOD_US))} {PERIOD_US}")
            return
        if memory_bytes:
            _write(memory / "memory.limit_in_bytes", str(memory_bytes))
            with contextlib.suppress(FileNotFoundError):  # no swap accounting: no swap to limit
                _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
        if cpu:
            _write(cpus / "cpu.cfs_period_us", str(PERIOD_US))
            _write(cpus / "cpu.cfs_quota_us", str(max(1000, int(cpu * PERIOD_US))))

    def enter(self, worker: str, pid: int) -> None:
        """Moves the process into the worker's group; the children it starts stay there."""
        for folder in {self.memory / worker, self.cpu / worker}:
            if folder == self.memory / worker or folder.is_dir():
                _write(folder / "cgroup.procs", str(pid))

    def members(self, worker: str) -> list[int]:
        """The processes in the worker's group: every one its agent started, in any session."""
        listed = _read(self.memory / worker / "cgroup.procs")
        return [int(pid) for pid in listed.split()]

    def remove(self, worker: str) -> None:
        """Removes the worker's group once its processes are gone."""
        for folder in {self.memory / worker, self.cpu / worker}:
            with contextlib.suppress(FileNotFoundError, OSError):
                folder.rmdir()


def oom_kills() -> int:
    """How many processes the kernel killed for memory in this process's group (v2, then v1).

    A local worker finds its group by name; a container, whose /proc names a group of the
    host, sees its own group where the hierarchy's root is.
    """
    own = _own_groups()
    places = [
        ROOT / own.get("", "/").lstrip("/") / "memory.events",
        ROOT / "unified" / own.get("", "/").lstrip("/") / "memory.events",
        ROOT / "memory" / own.get("memory", "/").lstrip("/") / "memory.oom_control",
        ROOT / "memory.events",
        ROOT / "memory" / "memory.oom_control",
    ]
    for path in places:
        for line in _read(path).splitlines():
            name, _, count = line.partition(" ")
            if name == "oom_kill":
                return int(count)
    return 0


def _own_groups() -> dict[str, str]:
    """This process's group in each hierarchy, by controller ("" for v2)."""
    groups = {}
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            groups[controller] = path
        if "," in controllers:
            groups[controllers] = path
    return groups


def _make(folder: Path) -> None:
    try:
        folder.mkdir(exist_ok=True)
    except OSError as err:
        raise CgroupsUnavailable(f"cannot create {folder}: {err.strerror}") from err


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as err:
        raise CgroupsUnavailable(f"cannot set {path.name} in {path.parent}: {err}") from err


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
