"""Shared fixtures: the sample vault copied to a temporary folder, a CLI runner, the real vaults."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SAMPLE_VAULT = REPO / "vault"
SHARED_VAULTS = Path(os.environ.get("KB_SHARED_VAULTS") or REPO.parent / "shared" / "vaults")
"""The real vaults: ../shared/vaults beside the checkout (a git worktree elsewhere can point
at them with KB_SHARED_VAULTS)."""


@pytest.fixture
def vault_copy(tmp_path: Path) -> Path:
    """A private copy of the sample vault (tests never touch vault/ itself)."""
    dest = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT, dest, ignore=shutil.ignore_patterns(".kb"))
    return dest


@pytest.fixture
def runner() -> CliRunner:
    """click's CliRunner; stderr is kept apart from stdout."""
    return CliRunner()


@pytest.fixture
def kb(runner: CliRunner, vault_copy: Path):
    """Run `kb --vault <copy> ARGS…` and return the click Result."""
    from kb.cli import cli

    def run(*args: str, input: str | None = None):
        return runner.invoke(cli, ["--vault", str(vault_copy), *args], input=input)

    return run


def shared_vault(name: str) -> Path:
    """A real vault from ../shared/vaults, or skip the test when this checkout has none."""
    path = SHARED_VAULTS / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent (real vaults are only in the development workspace)")
    return path


SHARED_FIXTURE_MODULES = ("tests/test_torture.py", "tests/test_bench.py")
"""Modules whose tests share a fixture that takes a minute or more to make (the indexed torture
vault with its 20 MB note, ``python -m bench.run --quick``): run on one xdist worker, so it is
made once, and first, so it does not finish alone at the end."""


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Each test is a unit of work of its own, but those of :data:`SHARED_FIXTURE_MODULES`.

    (xdist's ``--dist loadgroup`` would do it with marks, but with pytest 9 it groups nothing.)
    """
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in SHARED_FIXTURE_MODULES else nodeid

    return Scheduling(config, log)
