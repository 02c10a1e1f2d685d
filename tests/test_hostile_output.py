"""Nothing from a note or a file name reaches the terminal raw (issue 11 point 6).

A vault whose file names and front-matter strings hold escape sequences (an OSC window title,
an OSC 8 hyperlink, a CSI clear screen, 8-bit C1 CSI) and bidi overrides is run through every
command that prints names, in plain output and with --json. click is told to keep colour
(``color=True``) so that it strips nothing itself: what is printed is what kb wrote.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import cli

TITLE_OSC = "\x1b]0;pwned\x07"
LINK_OSC8 = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
CLEAR = "\x1b[2J"
C1_CSI = "\x9b31m"
RLO = "\u202e"

FILES = {
    "hub.md": "# Hub\n\nzebra hub links [[Evil]], [[Clear]], [[Bidi]] and [[Nowhere]].\n",
    f"evil{TITLE_OSC}.md": (
        "---\n"
        'title: "Evil\\e]0;pwned\\a"\n'
        'aliases: ["Evil", "Evil link \\e]8;;http://evil.example/\\e\\\\click\\e]8;;\\e\\\\"]\n'
        "tags: [hostile]\n"
        "---\n"
        "zebra evil body, see [[Hub]].\n"
    ),
    f"clear{CLEAR}.md": (
        "---\n"
        'title: "Clear\\e[2J\\x9b31m"\n'
        "aliases: [Clear]\n"
        'tags: ["hostile\\e[31m"]\n'
        "---\n"
        "zebra clear body, see [[Hub]] and [[Evil]].\n"
    ),
    f"bidi{RLO}gpj.md": (
        f"---\ntitle: 'Bidi {RLO}gpj.exe\u2066'\naliases: [Bidi]\n---\nzebra bidi\n"
    ),
    f"orphan{LINK_OSC8}.md": "zebra alone, linked by no one.\n",
    f"nested/deep{CLEAR}/note{C1_CSI}.md": "zebra deep [[Missing]]\n",
    f"binary{CLEAR}.md": "\x00\x01\x02" * 200,
}

BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What must never be printed: C0 controls but tab and newline (ESC among them), DEL, C1, bidi."""

COMMANDS = [
    ("index",),
    ("stats",),
    ("search", "zebra"),
    ("show", "Evil"),
    ("show", "Clear"),
    ("show", "Hub"),
    ("show", "#hostile"),
    ("path", "Clear", "Bidi"),
    ("neighbors", "Hub", "-d", "2"),
    ("tags",),
    ("doctor",),
    ("orphans",),
    ("related", "Hub"),
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "vault"
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
    (root / ".obsidian").mkdir()
    return root


def run(vault: Path, *args: str):
    # color=True: click strips no ANSI sequence itself, so the test sees what kb printed.
    runner = CliRunner()
    return runner.invoke(cli, ["--vault", str(vault), *args], color=True)


def _leaks(text: str) -> list[str]:
    return sorted({repr(m.group()) for m in BAD.finditer(text)})


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_plain_output_has_no_control_characters(hostile: Path, args: tuple[str, ...]) -> None:
    done = run(hostile, *args)
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    assert done.stdout.strip(), done.stderr  # it did print something
    assert not _leaks(done.stdout), done.stdout
    assert not _leaks(done.stderr), done.stderr


@pytest.mark.parametrize("args", [a for a in COMMANDS if a[0] != "related"], ids=" ".join)
def test_json_output_escapes_them_and_keeps_the_data(hostile: Path, args: tuple[str, ...]) -> None:
    done = run(hostile, *args, "--json")
    assert not _leaks(done.stdout), done.stdout
    assert not _leaks(done.stderr), done.stderr
    data = json.loads(done.stdout)  # the escapes are JSON's own: the data is all there
    assert data or data == []


def test_json_keeps_hostile_names_as_they_are(hostile: Path) -> None:
    done = run(hostile, "search", "zebra", "--json", "-n", "50")
    paths = {h["path"] for h in json.loads(done.stdout)}
    assert f"evil{TITLE_OSC}.md" in paths
    assert f"bidi{RLO}gpj.md" in paths
    assert "\\u001b" in done.stdout and "\\u202e" in done.stdout


def test_plain_output_keeps_the_readable_part(hostile: Path) -> None:
    out = run(hostile, "search", "zebra", "-n", "50").stdout
    assert "evil]0;pwned.md" not in out  # the OSC is gone whole, not only its ESC
    assert "evil.md" in out
    assert "orphanclick.md" in out
    assert "biditgpj.md" not in out and "bidigpj.md" in out
    card = run(hostile, "show", "Evil").stdout
    assert card.startswith("Evil  ("), card


def test_error_messages_are_cleaned_too(hostile: Path) -> None:
    # A did-you-mean names the vault's topics: a hostile alias must not reach the terminal.
    done = run(hostile, "show", "Evil link")
    assert not _leaks(done.stdout + done.stderr), done.stderr


def test_clean_keeps_only_kbs_own_colours() -> None:
    from kb.output import clean

    assert clean("\x1b[1mbold\x1b[0m", keep_style=True) == "\x1b[1mbold\x1b[0m"
    assert clean("\x1b[8mhidden\x1b[30;40m", keep_style=True) == "hidden"
    assert clean(f"a{CLEAR}b{TITLE_OSC}c{LINK_OSC8}d{C1_CSI}e{RLO}f\tg\n") == "abcclickdef\tg\n"
    assert clean("a lone \x1b") == "a lone "
    assert clean("cut short \x1b[") == "cut short "
