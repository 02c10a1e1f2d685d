"""`kb mcp` as an MCP client sees it: a real `kb mcp` subprocess, the SDK's own stdio client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from .conftest import REPO

TOOLS = {
    "search",
    "show_topic",
    "find_path",
    "neighbors",
    "related_notes",
    "read_note",
    "list_tags",
    "vault_health",
}


def _params(vault: Path) -> StdioServerParameters:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("KB_VAULT", None)
    return StdioServerParameters(
        command=sys.executable, args=["-m", "kb", "--vault", str(vault), "mcp"], env=env
    )


def talk(vault: Path, errlog: Path, conversation: Callable[[ClientSession], Awaitable[Any]]):
    """Start `kb --vault VAULT mcp`, run ``conversation`` with a client session, stop it."""

    async def main():
        with errlog.open("w") as err:
            async with stdio_client(_params(vault), errlog=err) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await conversation(session)

    return anyio.run(main)


def text(result) -> str:
    return "\n".join(c.text for c in result.content)


@pytest.fixture
def errlog(tmp_path: Path) -> Path:
    return tmp_path / "server-stderr.log"


def test_every_tool_on_the_sample_vault(vault_copy: Path, errlog: Path) -> None:
    async def conversation(s: ClientSession) -> dict:
        out: dict = {"tools": await s.list_tools()}
        calls = {
            "relu": ("search", {"query": "relu", "limit": 5}),
            "distill": ("search", {"query": "知识蒸馏"}),
            "path": ("find_path", {"from_topic": "ResNet", "to_topic": "1x1 conv"}),
            "card": ("show_topic", {"topic": "resnet", "limit": 3}),
            "section": ("read_note", {"path": "topics/ReLU.md", "heading": "优缺点"}),
            "note": ("read_note", {"path": "topics/ReLU", "max_chars": 40}),
            "neighbors": ("neighbors", {"topic": "relu", "kinds": ["note"]}),
            "related": ("related_notes", {"note": "ReLU", "limit": 3}),
            "tags": ("list_tags", {}),
            "health": ("vault_health", {"limit": 2}),
        }
        for key, (name, args) in calls.items():
            out[key] = await s.call_tool(name, args)
        out["resource"] = await s.read_resource("kb://note/topics/ReLU.md")
        return out

    got = talk(vault_copy, errlog, conversation)
    tools = {t.name: t for t in got["tools"].tools}
    assert set(tools) == TOOLS
    assert all(t.description and len(t.description) > 80 for t in tools.values())
    assert "path:line" in tools["search"].description and "tag:" in tools["search"].description
    for key, result in got.items():
        if key not in ("tools", "resource"):
            assert not result.is_error, (key, text(result))

    hits = got["relu"].structured_content["hits"]
    assert hits[0]["path"] == "topics/ReLU.md" and hits[0]["line"] == 1
    assert "topics/ReLU.md:1" in text(got["relu"])
    distill = got["distill"].structured_content["hits"]
    assert any(h["path"] == "topics/知识蒸馏.md" for h in distill)
    assert all("知识蒸馏" in h["snippet"] or "知识蒸馏" in h["title"] for h in distill[:2])

    path = got["path"].structured_content
    assert path["from"] == "note:topics/ResNet.md" and path["to"] == "note:topics/1x1 卷积.md"
    assert [h["kind"] for h in path["hops"]] == ["links_to", "links_to"]
    first, second = path["hops"]
    assert first["evidence"]["path"] == "topics/ResNet.md" and first["evidence"]["line"] == 16
    assert second["evidence"]["path"] == "topics/Bottleneck.md" and second["evidence"]["line"] == 9
    assert "1x1 卷积" in second["evidence"]["text"]
    assert "topics/Bottleneck.md:9" in text(got["path"])
    assert "ResNet –links_to→ Bottleneck" in text(got["path"])
    # the other places the two are said together come with their sentences, as kb path
    # prints them: the user's log says ResNet's BottNeck and 1x1 conv in one sentence
    also = text(got["path"]).split("also joined by:")[1]
    assert "面试准备计划.md:73  «在ResNet的BottNeck结构中" in also

    card = got["card"].structured_content
    assert card["label"] == "ResNet" and "残差网络" in card["aliases"]
    assert len(card["links_out"]) == 3 and card["more"]["links_out"] >= 1

    section = got["section"].structured_content
    assert section["heading"] == ["ReLU", "优缺点"] and section["text"].startswith("## 优缺点")
    assert "dead relu" in section["text"] and not section["truncated"]
    assert f"topics/ReLU.md:{section['line_start']}-{section['line_end']}" in text(got["section"])
    note = got["note"].structured_content
    assert note["path"] == "topics/ReLU.md" and note["truncated"] and len(note["text"]) == 40
    assert {"heading": ["ReLU", "优缺点"], "line": section["line_start"]} in note["outline"]

    neighbors = got["neighbors"].structured_content
    assert neighbors["label"] == "ReLU" and neighbors["neighbors"]
    assert {n["kind"] for n in neighbors["neighbors"]} == {"note"}
    related = got["related"].structured_content["notes"]
    assert related and all(n["path"] != "topics/ReLU.md" for n in related)
    tags = got["tags"].structured_content["tags"]
    assert {"tag": "cnn", "notes": 4, "depth": 0} in tags
    health = got["health"].structured_content
    assert health["notes"] == 9 and len(health["missing_embeds"]) == 2
    assert health["more"]["missing_embeds"] == 2
    assert got["resource"].contents[0].text.startswith("---\naliases: [Rectified Linear Unit")
    assert "Traceback" not in errlog.read_text()


def test_json_is_the_commands_json(vault_copy: Path, errlog: Path, kb) -> None:
    """A tool answers what `kb X --json` prints (within the tool's limit)."""

    async def conversation(s: ClientSession) -> list:
        return [
            await s.call_tool("search", {"query": "bottleneck OR 1x1卷积", "limit": 10}),
            await s.call_tool("find_path", {"from_topic": "relu", "to_topic": "知识蒸馏"}),
            await s.call_tool("neighbors", {"topic": "resnet", "depth": 2, "limit": 200}),
        ]

    search, path, neighbors = talk(vault_copy, errlog, conversation)
    expected = json.loads(kb("search", "bottleneck", "OR", "1x1卷积", "--json").stdout)
    assert search.structured_content["hits"] == expected
    assert path.structured_content == json.loads(kb("path", "relu", "知识蒸馏", "--json").stdout)
    expected = json.loads(kb("neighbors", "resnet", "--depth", "2", "--json").stdout)
    assert neighbors.structured_content == expected


def test_bad_arguments_are_one_line_tool_errors(vault_copy: Path, errlog: Path, tmp_path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("# Secret\n\npassword\n", encoding="utf-8")
    (vault_copy / "topics" / "out.md").symlink_to(secret)

    async def conversation(s: ClientSession) -> dict:
        calls = {
            "topic": ("show_topic", {"topic": "Bottlenek"}),
            "unknown": ("show_topic", {"topic": "qwertyuiop"}),
            "path_topic": ("find_path", {"from_topic": "ResNet", "to_topic": "no such thing"}),
            "dotdot": ("read_note", {"path": "../secret.md"}),
            "absolute": ("read_note", {"path": str(secret)}),
            "symlink": ("read_note", {"path": "topics/out.md"}),
            "heading": ("read_note", {"path": "topics/ReLU.md", "heading": "No such heading"}),
            "limit": ("search", {"query": "relu", "limit": 10**9}),
            "depth": ("neighbors", {"topic": "relu", "depth": 50}),
            "kind": ("neighbors", {"topic": "relu", "kinds": ["notes"]}),
            "query": ("search", {"query": '"unclosed'}),
            # arguments that do not fit the schema: pydantic says so in five lines
            "type": ("search", {"query": "relu", "limit": "ten"}),
            "missing": ("search", {}),
            "not_a_list": ("neighbors", {"topic": "relu", "kinds": "note"}),
            "tag": ("related_notes", {"note": "#cnn"}),
        }
        out = {key: await s.call_tool(name, args) for key, (name, args) in calls.items()}
        try:
            await s.read_resource("kb://note/topics/out.md")
        except Exception as e:  # noqa: BLE001 - the SDK raises its MCPError
            out["resource"] = e
        out["after"] = await s.call_tool("search", {"query": "relu", "limit": 1})
        return out

    got = talk(vault_copy, errlog, conversation)
    for key in sorted(set(got) - {"resource", "after"}):
        result = got[key]
        assert result.is_error, key
        message = text(result)
        assert "\n" not in message and "Traceback" not in message, (key, message)
    assert "did you mean: Bottleneck" in text(got["topic"])
    assert "no topic 'qwertyuiop' in this vault; look for it with the search tool" in text(
        got["unknown"]
    )
    assert "not a path inside the vault" in text(got["dotdot"])
    assert "not a path inside the vault" in text(got["absolute"])
    assert "no note 'topics/out.md'" in text(got["symlink"])
    assert "password" not in text(got["symlink"])
    assert "no section 'No such heading'" in text(got["heading"])
    assert "limit must be between 1 and 200 (got 1000000000)" in text(got["limit"])
    assert "depth must be between 1 and 3" in text(got["depth"])
    assert "no node kind 'notes'; kinds are concept, missing, note" in text(got["kind"])
    assert "password" not in str(got["resource"]) and "no note" in str(got["resource"])
    assert "query" in text(got["query"]) or "quote" in text(got["query"])
    assert text(got["type"]).endswith(
        "bad arguments for search: limit should be a valid integer, unable to parse string "
        "as an integer (got 'ten')"
    )
    assert text(got["missing"]).endswith("bad arguments for search: query is required")
    assert text(got["not_a_list"]).endswith("kinds should be a valid list (got 'note')")
    assert "pydantic" not in text(got["type"]) + text(got["missing"])
    assert "'#cnn' is a tag, not a note" in text(got["tag"])
    # the server is still there, and still answers
    assert not got["after"].is_error
    assert got["after"].structured_content["hits"][0]["path"] == "topics/ReLU.md"
    assert "Traceback" not in errlog.read_text()


def _age(root: Path, seconds: int = 3600) -> None:
    """Every folder and file of a vault with an mtime an hour old: a vault not just copied,
    whose folders a call trusts without listing them (:class:`kb.vault.Snapshot`)."""
    then = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (then, then), follow_symlinks=False)


@pytest.mark.parametrize("copied", ["just now", "an hour ago"])
def test_an_edit_between_two_calls_is_seen(vault_copy: Path, errlog: Path, copied: str) -> None:
    """Each edit made right before a call (no pause) is in that call's answer, whether the
    call lists the vault (folders changed just now) or only stats its notes and folders."""
    note = vault_copy / "topics" / "ReLU.md"
    if copied == "an hour ago":
        _age(vault_copy)

    async def conversation(s: ClientSession) -> tuple:
        before = await s.call_tool("search", {"query": "zebrafish"})
        card_before = await s.call_tool("show_topic", {"topic": "Zebrafish Model"})
        with note.open("a", encoding="utf-8") as fh:  # in place: the folder does not change
            fh.write("\n## Zebrafish Model\n\nA zebrafish sentence about [[ResNet]].\n")
        after = await s.call_tool("search", {"query": "zebrafish"})
        card_after = await s.call_tool("show_topic", {"topic": "Zebrafish Model"})
        (vault_copy / "topics" / "Smooth L1.md").unlink()
        gone = await s.call_tool("read_note", {"path": "topics/Smooth L1.md"})
        if copied == "an hour ago":
            _age(vault_copy)
            await s.call_tool("list_tags", {})  # (sees the new mtimes: a note's stat changed)
        (vault_copy / "topics" / "new one.md").write_text("# Quokka\n\nquokka\n", "utf-8")
        new = await s.call_tool("search", {"query": "quokka"})
        (vault_copy / "topics" / "new one.md").rename(vault_copy / "topics" / "renamed.md")
        renamed = await s.call_tool("search", {"query": "quokka"})
        return before, card_before, after, card_after, gone, new, renamed

    before, card_before, after, card_after, gone, new, renamed = talk(
        vault_copy, errlog, conversation
    )
    assert [h["path"] for h in new.structured_content["hits"]] == ["topics/new one.md"]
    assert [h["path"] for h in renamed.structured_content["hits"]] == ["topics/renamed.md"]
    assert before.structured_content["hits"] == [] and "No hits" in text(before)
    assert card_before.is_error
    hits = after.structured_content["hits"]
    assert hits and hits[0]["path"] == "topics/ReLU.md"
    assert hits[0]["heading"] == ["ReLU", "Zebrafish Model"]
    assert not card_after.is_error and card_after.structured_content["kind"] == "concept"
    assert gone.is_error and "no note" in text(gone)


def test_nothing_but_protocol_on_stdout(vault_copy: Path) -> None:
    """Every line the server writes on stdout is a JSON-RPC message, even while it indexes."""
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "search", "arguments": {"query": "relu"}},
        },
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "show_topic", "arguments": {"topic": "nosuchtopicx"}},
        },
    ]
    params = _params(vault_copy)
    server = subprocess.Popen(
        [params.command, *params.args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=params.env,
    )
    lines = []
    with server:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        server.stdin.flush()
        while len(lines) < 3:  # the three replies (a reply cut short by EOF would be lost)
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line)
        _, stderr = server.communicate(timeout=60)  # closes stdin: the server stops
    replies = [json.loads(line) for line in lines]
    assert [r.get("id") for r in replies] == [1, 2, 3], stderr
    assert server.returncode == 0, stderr
    assert replies[1]["result"]["structuredContent"]["hits"][0]["path"] == "topics/ReLU.md"
    assert replies[2]["result"]["isError"] is True
    assert "Traceback" not in stderr


def test_kb_search_does_not_import_the_sdk(vault_copy: Path) -> None:
    code = (
        "import sys; from kb.cli import cli; "
        "cli.main(['--vault', sys.argv[1], 'search', 'relu'], standalone_mode=False); "
        "print('mcp' in sys.modules, file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(vault_copy)], capture_output=True, text=True, env=env
    )
    assert done.stderr.strip().splitlines()[-1] == "False", done.stderr


def test_notes_are_listed_as_resources(vault_copy: Path, errlog: Path) -> None:
    """resources/list gives every note, a page at a time; each listed URI reads its note, even
    when the file name holds a space, ``?``, ``#`` or ``%``."""
    odd = ["topics/What is 1x1?.md", "topics/50% #1.md"]
    for rel in odd:
        (vault_copy / rel).write_text(f"# {rel}\n\nodd name\n", encoding="utf-8")
    many = vault_copy / "many"
    many.mkdir()
    for i in range(500):  # with the sample's notes, more than one page of 500
        (many / f"n{i:03}.md").write_text(f"# Note {i}\n\nword{i}\n", encoding="utf-8")

    async def conversation(s: ClientSession) -> tuple:
        from mcp.types import PaginatedRequestParams

        pages = [await s.list_resources()]
        while pages[-1].next_cursor:
            cursor = PaginatedRequestParams(cursor=pages[-1].next_cursor)
            pages.append(await s.list_resources(params=cursor))
        listed = [r for p in pages for r in p.resources]
        wanted = [r for r in listed if not r.name.startswith("many/")]
        read = {r.name: await s.read_resource(r.uri) for r in wanted + listed[:2]}
        try:
            await s.list_resources(params=PaginatedRequestParams(cursor="nonsense"))
            bad = None
        except Exception as e:  # noqa: BLE001 - the SDK raises its MCPError
            bad = e
        return pages, listed, read, bad

    pages, listed, read, bad = talk(vault_copy, errlog, conversation)
    on_disk = sorted(p.relative_to(vault_copy).as_posix() for p in vault_copy.rglob("*.md"))
    on_disk = [p for p in on_disk if not p.startswith("templates/")]  # Obsidian's templates
    assert len(pages) == 2 and pages[-1].next_cursor is None
    assert [r.name for r in listed] == on_disk
    by_name = {r.name: r for r in listed}
    relu = by_name["topics/ReLU.md"]
    assert relu.uri == "kb://note/topics/ReLU.md" and relu.title == "ReLU"
    assert relu.mime_type == "text/markdown" and "激活函数" in (relu.description or "")
    assert by_name["topics/50% #1.md"].uri == "kb://note/topics/50%25%20%231.md"
    for name, got in read.items():
        assert got.contents[0].text == (vault_copy / name).read_text(encoding="utf-8"), name
    assert "bad cursor 'nonsense'" in str(bad)


def test_related_notes_of_a_concept_says_whose_notes(vault_copy: Path, errlog: Path) -> None:
    """A concept is no note: the answer says it gives the notes like the note holding it."""

    async def conversation(s: ClientSession) -> tuple:
        return (
            await s.call_tool("related_notes", {"note": "dead relu", "limit": 3}),
            await s.call_tool("related_notes", {"note": "ReLU", "limit": 3}),
        )

    concept, note = talk(vault_copy, errlog, conversation)
    assert not concept.is_error
    via = concept.structured_content["via"]
    assert via == {"label": "Dead ReLU", "kind": "concept", "path": "topics/ReLU.md", "line": 14}
    assert text(concept).startswith(
        "'dead relu' is the concept 'Dead ReLU' at topics/ReLU.md:14, not a note: "
        "the notes most like topics/ReLU.md:\n"
    )
    assert concept.structured_content["notes"] == note.structured_content["notes"]
    assert "via" not in note.structured_content


def test_a_call_on_an_unchanged_vault_lists_no_folder(vault_copy: Path, monkeypatch) -> None:
    """The server's session answers a call on a vault that did not change from the stats of
    its notes and folders alone (no listing of the vault, no refresh), and still sees an
    edit made in place right before the next call."""
    from kb import api
    from kb.session import Session
    from kb.vault import Vault, find_vault

    vault = find_vault(str(vault_copy), environ={})
    session = Session(vault)
    session.fresh()
    _age(vault_copy)
    session.fresh()  # the new mtimes: kb's data sees the notes as touched, not changed
    listed = []
    real_scan = Vault.scan
    monkeypatch.setattr(Vault, "scan", lambda *a, **k: listed.append(1) or real_scan(*a, **k))
    kg, store = session.fresh()
    assert listed == [] and session.fresh() == (kg, store)
    with (vault_copy / "topics" / "ReLU.md").open("a", encoding="utf-8") as fh:
        fh.write("\nAn okapi.\n")
    kg2, _ = session.fresh()
    assert listed and kg2 is not kg
    assert [h["path"] for h in api.search(vault, "okapi")] == ["topics/ReLU.md"]
