"""A kb that holds the lock and is stopped (Ctrl-Z, a hung read) never hangs another kb.

The holder is a real second process that takes ``.kb/lock`` and is then SIGSTOPped; every
kb run here has a hard subprocess timeout, so a kb that waits for ever fails the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

HOLD = (
    "import sys, time\n"
    "from kb.store import write_lock; from kb.vault import find_vault\n"
    "with write_lock(find_vault(sys.argv[1])):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(600)\n"
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update({"PYTHONPATH": str(REPO), "NO_COLOR": "1", "KB_LOCK_TIMEOUT": "1", **extra})
    return env


def kb(vault: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kb", "--vault", str(vault), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(**env),
    )


@contextmanager
def holding(vault: Path) -> Iterator[subprocess.Popen]:
    """A second process that holds the vault's lock and is stopped; killed on the way out."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(vault)], stdout=subprocess.PIPE, text=True, env=_env()
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            os.kill(holder.pid, signal.SIGSTOP)
            yield holder
        finally:
            if holder.poll() is None:
                os.kill(holder.pid, signal.SIGCONT)
                holder.kill()
            holder.wait(timeout=30)


@pytest.fixture
def stopped_holder(vault_copy: Path) -> Iterator[int]:
    """The pid of a process that holds the vault's lock and is stopped."""
    with holding(vault_copy) as holder:
        yield holder.pid


@pytest.fixture
def indexed(vault_copy: Path) -> Path:
    done = kb(vault_copy, "index")
    assert done.returncode == 0, done.stderr
    return vault_copy


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_index_says_it_waits_and_gives_up_naming_the_holder(
    indexed: Path, stopped_holder: int
) -> None:
    start = time.monotonic()
    done = kb(indexed, "index")
    assert time.monotonic() - start < 30
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    waiting, gave_up = lines
    assert f"waiting for kb (pid {stopped_holder}) that holds" in waiting
    assert str(indexed / ".kb" / "lock") in waiting
    assert "gave up after 1 s" in gave_up
    assert f"kill -CONT {stopped_holder}" in gave_up
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (("show", "ReLU"), "ReLU"),
        (("tags",), "#"),
        (("stats",), "notes"),
        (("search", "relu"), "relu"),
        (("neighbors", "ReLU"), "hop"),
    ],
)
def test_read_only_commands_answer_from_the_data_as_it_is(
    indexed: Path, stopped_holder: int, args: tuple[str, ...], expect: str
) -> None:
    done = kb(indexed, *args)
    assert done.returncode == 0, done.stderr
    assert expect.casefold() in done.stdout.casefold()
    line = _one_line(done.stderr)
    assert f"kb (pid {stopped_holder})" in line
    assert "as it is" in line


def test_without_data_a_read_only_command_waits_then_gives_up(
    vault_copy: Path, stopped_holder: int
) -> None:
    # The holder created .kb/ and its lock, but there is no store yet to answer from.
    start = time.monotonic()
    done = kb(vault_copy, "show", "ReLU")
    assert time.monotonic() - start < 30
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"waiting for kb (pid {stopped_holder})" in done.stderr
    assert f"kill {stopped_holder}" in done.stderr.splitlines()[-1]


def test_once_the_holder_is_gone_kb_takes_the_lock(indexed: Path) -> None:
    with holding(indexed) as holder:
        os.kill(holder.pid, signal.SIGKILL)  # stopped, then killed: the kernel drops its lock
        holder.wait(timeout=30)
    done = kb(indexed, "index")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_bad_lock_timeout_is_one_line(indexed: Path, stopped_holder: int) -> None:
    done = kb(indexed, "index", KB_LOCK_TIMEOUT="soon")
    assert done.returncode == 2
    assert "KB_LOCK_TIMEOUT" in _one_line(done.stderr)


BUSY = (
    "import sys, time\n"
    "from kb.store import write_lock; from kb.vault import find_vault\n"
    "with write_lock(find_vault(sys.argv[1])):\n"
    "    print('held', flush=True)\n"
    "    end = time.monotonic() + 3\n"
    "    while time.monotonic() < end: pass\n"
)


def test_a_holder_at_work_is_waited_for_past_the_timeout(indexed: Path) -> None:
    """A long `kb index --full` elsewhere is not given up on: it uses CPU, a stopped one not."""
    with subprocess.Popen(
        [sys.executable, "-c", BUSY, str(indexed)], stdout=subprocess.PIPE, text=True, env=_env()
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            done = kb(indexed, "index")
        finally:
            holder.kill()
            holder.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert f"waiting for kb (pid {holder.pid})" in _one_line(done.stderr)
