"""`kb mcp`: serve the vault to an AI assistant over the Model Context Protocol (stdio)."""

from __future__ import annotations

import click


@click.command()
@click.pass_obj
def mcp(app) -> None:
    """Serve the vault to an AI assistant as an MCP server over stdio: tools to search,
    show a topic, find the path between two topics, list neighbours and related notes,
    read a note or a section, list tags and check the vault, and each note as a
    kb://note/PATH resource. Every call first reads notes changed since the last one.
    The server never writes the vault. Run by an MCP client, not by hand.

    \b
    Examples:
      kb --vault ~/Notes mcp       # what an MCP client runs; in its configuration:
      {"mcpServers": {"kb": {"command": "kb",
                             "args": ["--vault", "/path/to/vault", "mcp"]}}}
    """
    from kb.mcp_server import serve

    serve(app.vault)
