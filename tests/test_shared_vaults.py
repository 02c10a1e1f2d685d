"""`kb index` and `kb stats` on real vaults (../shared/vaults), against counts taken by hand.

How the counts were taken (2026-11-29):
- notes: `find VAULT -name '*.md' | wc -l`.
- foam-docs wikilinks: `grep -o '\\[\\[[^]]*\\]\\]'` over the files with fenced and inline code
  stripped gives 200; one of those is inside a YAML code block the strip missed
  (user/features/foam-queries.md:84), so 199.
- foam-docs tags: front matter `tags: [hello, bonjour]` (note-properties.md), `#recipe` on line 3
  of each recipe, `#mobile-apps` (take-notes-from-mobile-phone.md:59), `#book` (tags.md:88);
  every other `#word` in those files is inside a code block, and `#ffffff` is a colour.
- d2l-zh: no wikilinks and no tags; its 377 image embeds point at images that SOURCES.md says
  were left out; 7 Markdown links point at chapters that are not in the repository (e.g.
  STYLE_GUIDE.md:162 `linear-reg.md`, machine-translation.md:72 `../…/rnn-gluon.md`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kb.cli import cli
from kb.store import Store
from kb.vault import find_vault

from .conftest import shared_vault

pytestmark = pytest.mark.shared


def run(runner, vault: Path, index_dir: Path, *args: str):
    result = runner.invoke(cli, ["--vault", str(vault), "--index-dir", str(index_dir), *args])
    assert result.exit_code == 0, result.output
    return result


def test_foam_docs_counts(runner, tmp_path: Path) -> None:
    vault = shared_vault("foam-docs")
    # --strict: exit 1 on any warning. These files have no problem kb should report.
    assert run(runner, vault, tmp_path, "index", "--strict").stderr == ""
    stats = json.loads(run(runner, vault, tmp_path, "stats", "--json").stdout)
    assert stats["notes"] == 86
    assert stats["tags"] == 5
    notes = Store(find_vault(str(vault), str(tmp_path))).notes()
    kinds = Counter(link.kind for note in notes.values() for link in note.links)
    assert kinds["wikilink"] == 199
    tags = {t.casefold() for note in notes.values() for t in note.tags}
    assert tags == {"hello", "bonjour", "recipe", "mobile-apps", "book"}
    assert notes["user/features/note-properties.md"].tags == ("hello", "bonjour")


def test_d2l_zh_counts(runner, tmp_path: Path) -> None:
    vault = shared_vault("d2l-zh")
    indexed = run(runner, vault, tmp_path, "index", "--strict")
    assert indexed.stderr == ""  # no warning: none of its files has a problem kb reports
    summary = indexed.stdout
    assert summary.startswith("294 notes (294 new")
    stats = json.loads(run(runner, vault, tmp_path, "stats", "--json").stdout)
    assert stats["notes"] == 294
    assert stats["tags"] == 0
    assert stats["missing_embeds"] == 377
    assert stats["broken_links"] == 7
    assert stats["warnings"] == 0
    # Nothing was written into the shared vault.
    assert not (vault / ".kb").exists()
