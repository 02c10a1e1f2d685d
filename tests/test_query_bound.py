"""Every query has a bounded cost (issue 11 point 5): a ``prefix*`` stands for a bounded number
of index words, the most common ones, and says so when it leaves words out.

The vault is generated with thousands of distinct words starting with ``a`` and ``b`` (as in
a big vault where ``kb search 'a*'`` ran for minutes); every kb run has a hard timeout.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from whoosh import query as wq

from kb.query import FIELD_BOOSTS, MAX_PREFIX_WORDS, Compiler, parse_query

REPO = Path(__file__).resolve().parents[1]
WORDS = 3000
COMMON = "aaacommon"


@pytest.fixture(scope="module")
def wordy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(11)
    letters = "cdefghijklmnoprstuvw"

    def words(first: str) -> list[str]:
        found: set[str] = set()
        while len(found) < WORDS:
            found.add(first + "".join(rng.choice(letters) for _ in range(rng.randint(6, 8))))
        return sorted(found)

    a, b = words("a"), words("b")
    root = tmp_path_factory.mktemp("wordy") / "vault"
    (root / ".obsidian").mkdir(parents=True)
    for i in range(600):
        body = rng.sample(a, 15) + rng.sample(b, 15) + ([COMMON] if i % 3 == 0 else [])
        rng.shuffle(body)
        text = f"# Note {i}\n\n## {rng.choice(a)}\n\n{' '.join(body)}\n"
        (root / f"n{i:04d}.md").write_text(text, encoding="utf-8")
    done = kb(root, "index")
    assert done.returncode == 0, done.stderr
    return root


def kb(vault: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(PYTHONPATH=str(REPO), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "kb", "--vault", str(vault), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _leaves(q: wq.Query) -> list[wq.Query]:
    return [q] if q.is_leaf() else [leaf for child in q.children() for leaf in _leaves(child)]


def _compiled(vault: Path, text: str) -> tuple[wq.Query, Compiler]:
    from kb import index
    from kb.vault import Vault

    ix = index._open(Vault(root=vault, data_dir=vault / ".kb"))
    with index._searcher(ix) as searcher:
        compiler = Compiler(searcher)
        return compiler.compile(parse_query(text)), compiler


def test_a_prefix_stands_for_a_bounded_number_of_words(wordy: Path) -> None:
    q, compiler = _compiled(wordy, "a*")
    leaves = _leaves(q)
    assert not any(isinstance(leaf, wq.PatternQuery) for leaf in leaves)  # no unbounded Prefix
    assert len(leaves) <= MAX_PREFIX_WORDS * len(FIELD_BOOSTS)
    assert COMMON in compiler.terms  # the words kept are the most common ones


def test_a_broad_prefix_says_what_it_searched(wordy: Path) -> None:
    done = kb(wordy, "search", "--no-refresh", "a*", "-n", "10")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(".md:") == 10
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    count = int(lines[0].split(" matches ")[1].split()[0])
    assert count > WORDS * 0.9  # (a few of the generated words fell in no note)
    assert f"searched the {MAX_PREFIX_WORDS} most common" in lines[0]


def test_two_broad_prefixes_in_a_union(wordy: Path) -> None:
    done = kb(wordy, "search", "--no-refresh", "a* OR b*", "-n", "10")
    assert done.returncode == 0, done.stderr
    notices = done.stderr.strip().splitlines()
    assert [n.split(" matches ")[0] for n in notices] == ["kb: `a*`", "kb: `b*`"], notices


def test_a_narrow_prefix_is_not_cut_and_says_nothing(wordy: Path) -> None:
    done = kb(wordy, "search", "--no-refresh", "aaacom*", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.count('"path"') == 10
