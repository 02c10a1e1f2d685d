"""Timing whole processes: wall time and peak memory of one run, medians, the machine.

A process is started with :class:`subprocess.Popen` and reaped with :func:`os.wait4`, which
gives that child's own resource usage: ``ru_maxrss`` is the peak resident memory of the
largest process in its tree (the child or one of the children it reaped; KB on Linux). When
asked, a thread also samples the resident memory of the whole tree (the child and every
descendant, from ``/proc``) so parallel workers are added up rather than maxed.
"""

from __future__ import annotations

import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_EVERY = 0.02
"""Seconds between two samples of a process tree's memory."""


@dataclass(slots=True)
class Run:
    """One run of one process."""

    seconds: float
    """Wall time from start to exit."""
    peak_mb: float
    """Peak resident memory of the largest single process of the tree (ru_maxrss)."""
    tree_mb: float | None = None
    """Peak of the summed resident memory of the whole tree, when sampled."""
    returncode: int = 0
    timed_out: bool = False
    output_bytes: int = 0
    """Bytes the process wrote to stdout (drained through a pipe, as a terminal would)."""
    stderr_tail: str = ""

    def as_json(self) -> dict:
        return asdict(self)


def _drain(stream, sink: list[int], keep: list[bytes] | None = None) -> None:
    for chunk in iter(lambda: stream.read(65536), b""):
        sink[0] += len(chunk)
        if keep is not None:
            keep.append(chunk)
            del keep[:-4]  # only the tail is kept
    stream.close()


def _tree_rss_kb(pid: int) -> int:
    """Summed VmRSS of ``pid`` and all its descendants (0 for what has already exited)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", "rb") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.pid))
            self.stop.wait(SAMPLE_EVERY)


def run(
    cmd: list[str],
    *,
    cwd: Path | None = None,
    timeout: float | None = None,
    sample_tree: bool = False,
) -> Run:
    """Run ``cmd`` to its end (or kill its process group after ``timeout`` seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so a timeout kills the workers too
    )
    out, err, err_tail = [0], [0], []
    readers = [
        threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
        threading.Thread(target=_drain, args=(proc.stderr, err, err_tail), daemon=True),
    ]
    for r in readers:
        r.start()
    sampler = _TreeSampler(proc.pid) if sample_tree else None
    if sampler:
        sampler.start()
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill) if timeout else None
    if timer:
        timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if timer:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen did not reap it: tell it
    if sampler:
        sampler.stop.set()
        sampler.join()
    for r in readers:
        r.join()
    tail = b"".join(err_tail).decode("utf-8", "replace").strip().splitlines()[-3:]
    return Run(
        seconds=seconds,
        peak_mb=usage.ru_maxrss / 1024,
        tree_mb=sampler.peak_kb / 1024 if sampler else None,
        returncode=proc.returncode,
        timed_out=timed_out.is_set(),
        output_bytes=out[0],
        stderr_tail="\n".join(tail),
    )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, linear between the closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _meminfo_gb() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def tool_version(cmd: list[str]) -> str | None:
    """First line of ``cmd --version``-like output, or None when the tool is absent."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else None


def machine() -> dict:
    """What the figures were measured on."""
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--", "kb"))
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": round(_meminfo_gb() or 0, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "kb_commit": commit + (" (kb/ modified)" if dirty else ""),
        "executable": sys.executable,
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
