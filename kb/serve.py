"""``kb serve``: the vault as a local web page and a JSON API (Starlette on uvicorn).

The API answers with the ``--json`` shapes of the commands, asking :mod:`kb.api` what the
commands ask it. One thread owns kb's data (the store and graph of a
:class:`kb.session.Session`, whose SQLite connections must stay on one thread); requests wait
for it, so answers never interleave. A file watcher (:mod:`kb.watch`) marks the session
stale, the data thread refreshes it incrementally, and the page hears of it by server-sent
events (``/api/events``). Until the watcher is in place, and if it stops, each request
stats the notes and folders first, as ``kb mcp`` does (:class:`kb.vault.Snapshot`).

Safe by default: the server listens on 127.0.0.1 only; a request whose Host or Origin is
not this server's (DNS rebinding, another site's page) is refused; only GET and HEAD are
served; note text travels as JSON and the page shows it with ``textContent`` only; the page
may load nothing but its own three files; every error is one line of JSON, never a
traceback. kb never writes the vault: it writes only its own data folder.

Only this module imports Starlette and uvicorn, and only ``kb serve`` imports this module.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from kb import api
from kb.errors import KbError, QueryError, TopicNotFound, notice
from kb.output import HL_END, HL_START, clean
from kb.session import Session

if TYPE_CHECKING:
    from kb.graph.queries import KnowledgeGraph
    from kb.store import Store
    from kb.vault import Vault

HOST = "127.0.0.1"
"""The only address kb serve listens on: the page is for the person at this machine."""
MAX_LIMIT = 200
"""The most hits, card entries or neighbours one answer holds."""
MAX_DEPTH = 3
"""The most hops ``/api/neighbors`` and ``/api/graph`` walk."""
GRAPH_NODES = 150
"""Topics one ``/api/graph`` answer draws at most by default (a hub has thousands)."""
MAX_GRAPH_NODES = 1000
STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "vis-network.min.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
"""The files the page loads (from kb/assets), and nothing else is served from there."""
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # vis-network sets element styles
        "connect-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class BadRequest(KbError):
    """A request kb cannot answer as asked (a missing or out-of-range parameter)."""


# -- the vault, on its own thread -----------------------------------------------------------


class Live:
    """The session on its data thread, and the pages listening for changes."""

    def __init__(self, vault: Vault):
        self.vault = vault
        self.session = Session(vault)
        """Watched once the watcher is in place (until then, and if it stops, each request
        stats the notes and folders as ``kb mcp`` does)."""
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="kb-data")
        self.stopping = threading.Event()
        """Set on Ctrl-C: the watcher and the event streams end."""
        self.loop: asyncio.AbstractEventLoop | None = None
        self.listeners: set[asyncio.Queue] = set()
        self.pending = False
        """A refresh is queued on the data thread (more changes need no second one)."""
        self.lock = threading.Lock()
        self.announced = 0
        """The version of kb's data the pages were last told of."""

    def call(self, ask: Callable[[KnowledgeGraph, Store], Any]) -> Any:
        """``ask(graph, store)`` on fresh data, in the data thread (the caller's thread)."""
        try:
            return self.session.repairing(lambda: ask(*self.session.fresh()))
        finally:
            self._announce()  # a request may be what noticed the change first

    def _announce(self) -> None:
        """Tell the pages when kb's data is newer than what they were last told of."""
        if self.session.version == self.announced:
            return
        self.announced = self.session.version
        ch = getattr(self.session, "last_changes", None)
        changed = sorted({*ch.added, *ch.changed, *ch.removed}) if ch else []
        self.publish({"version": self.session.version, "paths": changed[:100]})

    async def ask(self, ask: Callable[[KnowledgeGraph, Store], Any]) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.worker, self.call, ask)

    # The watcher's thread calls this for each batch of changed files.
    def changed(self, paths: set[str]) -> None:
        self.session.changed()
        with self.lock:
            if self.pending:
                return
            self.pending = True
        self.worker.submit(self._refresh, paths)

    def _refresh(self, paths: set[str]) -> None:
        with self.lock:
            self.pending = False
        before = self.session.version
        start = time.perf_counter()
        try:
            self.session.fresh()
        except Exception as e:  # the next request says what is wrong; the server goes on
            notice(f"could not refresh after a change ({_one_line(e)})")
            return
        if self.session.version != before:
            ch = self.session.last_changes
            n = len({*ch.added, *ch.changed, *ch.removed})
            seconds = time.perf_counter() - start
            notice(f"{n} note(s) changed, kb's data refreshed in {seconds:.2f} s")
        self._announce()

    def publish(self, event: dict) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return

        def tell() -> None:
            for q in list(self.listeners):
                q.put_nowait(event)

        loop.call_soon_threadsafe(tell)

    def close(self) -> None:
        self.stopping.set()
        self.worker.submit(self.session.close)
        self.worker.shutdown(wait=True)


# -- answers ----------------------------------------------------------------------------------


def _one_line(e: BaseException) -> str:
    text = clean(str(e)).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:500]


def _json(data: Any, status: int = 200) -> Response:
    # ASCII JSON: never invalid UTF-8, whatever a note holds (lone surrogates included).
    body = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return Response(body, status, media_type="application/json")


def _error(status: int, message: str, **extra: Any) -> Response:
    return _json({"error": message, **extra}, status)


def _failure(e: BaseException) -> Response:
    """Any error as one line of JSON with the status that fits it."""
    from kb.api import NotInVault

    if isinstance(e, TopicNotFound):
        return _error(404, _one_line(e), did_you_mean=e.suggestions)
    if isinstance(e, NotInVault):
        return _error(404, _one_line(e))
    if isinstance(e, (QueryError, BadRequest)):
        return _error(400, _one_line(e))
    if isinstance(e, KbError):
        return _error(400 if e.exit_code == 2 else 500, _one_line(e))
    if isinstance(e, (OSError, sqlite3.Error)):
        from kb.cli import _describe

        return _error(500, _one_line(Exception(_describe(e))))
    detail = _one_line(Exception(f"{type(e).__name__}: {e}"))[:200]
    return _error(500, f"kb failed ({detail}); run the same question with the kb command --debug")


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number (got {raw[:40]!r})") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high} (got {value})")
    return value


def _text(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    if not value.strip():
        raise BadRequest(f"give {name}=… (it is missing or empty)")
    return value


def highlighted(snippet: str) -> list[list]:
    """A snippet as ``[text, matched]`` parts: the page marks the matched ones, as text."""
    parts: list[list] = []
    for i, chunk in enumerate(snippet.split(HL_START)):
        matched, _, rest = chunk.partition(HL_END) if i else ("", "", chunk)
        if matched:
            parts.append([matched, True])
        if rest:
            parts.append([rest, False])
    return parts


CARD_LISTS = (
    "defined_in",
    "links_out",
    "backlinks",
    "unlinked_mentions",
    "mentions_out",
    "related",
    "found_in",
)


def graph_around(kg: KnowledgeGraph, topic: str, depth: int, most: int) -> dict:
    """The topics within ``depth`` hops of ``topic`` (at most ``most``, nearest first) and the
    edges among them: ``kb graph --format json``'s shape, each link with its ``count``."""
    from kb.export import _int_or_none, _sorted_edges, _str_or_none

    focus = kg.find(topic)
    near = kg.neighbourhood(focus, depth)
    keep = sorted(near, key=lambda n: (near[n], n.startswith("section:")))[:most]
    H = kg.subgraph(keep)
    nodes = [
        {
            "id": n,
            "label": _str_or_none(d.get("label")) or n,
            "kind": _str_or_none(d.get("kind")),
            "path": _str_or_none(d.get("path")),
            "line": _int_or_none(d.get("line")),
            "distance": near.get(n, depth + 1),
        }
        for n, d in sorted(H.nodes(data=True))
        if d.get("kind") != "section" or n == focus  # sections: places of a topic, not topics
    ]
    shown = {n["id"] for n in nodes}
    links = [
        {
            "source": u,
            "target": v,
            "kind": _str_or_none(d.get("kind")),
            "count": _int_or_none(d.get("count")) or 1,
            "evidence": {
                "path": _str_or_none(d.get("path")),
                "line": _int_or_none(d.get("line")),
                "text": _str_or_none(d.get("text")),
            },
        }
        for u, v, d in _sorted_edges(H)
        if u in shown and v in shown
    ]
    return {
        "focus": focus,
        "label": kg.label(focus),
        "depth": depth,
        "nodes": nodes,
        "links": links,
        "more": max(0, len(near) - len(keep)),
    }


def styles() -> dict:
    """How the page draws node and edge kinds: the HTML export's styles and vis options."""
    from kb.export import _EDGE_STYLE, _NODE_STYLE, _OTHER_EDGE, _OTHER_NODE, _vis_options

    options = _vis_options(100, 200)
    options["physics"]["stabilization"] = {"enabled": True, "iterations": 150, "fit": True}
    return {
        "nodes": {**_NODE_STYLE, "other": _OTHER_NODE},
        "edges": {**_EDGE_STYLE, "other": _OTHER_EDGE},
        "options": options,
    }


def build(vault: Vault, live: Live, port: int) -> Starlette:
    """The web app of ``vault``: the page, its files, the API and the event stream."""
    assets = resources.files("kb") / "assets"
    files = {name: (assets / name).read_bytes() for name in STATIC}
    page = (assets / "app.html").read_bytes()
    look = styles()

    def endpoint(answer: Callable[[Request], Any]):
        async def run(request: Request) -> Response:
            try:
                return _json(await answer(request))
            except Exception as e:
                return _failure(e)

        return run

    async def home(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in files:
            return _error(404, f"no file {name[:80]!r} here")
        return Response(files[name], media_type=STATIC[name])

    async def favicon(request: Request) -> Response:
        # Asked for by browsers (and tools) whatever the page's <link rel="icon"> says.
        return Response(files["favicon.svg"], media_type=STATIC["favicon.svg"])

    async def status(request: Request) -> dict:
        def ask(kg: KnowledgeGraph, store: Store) -> dict:
            return {
                "vault": vault.name,
                "version": live.session.version,
                "notes": store.totals().notes,
                "topics": kg.number_of_nodes(),
            }

        return {**await live.ask(ask), "styles": look}

    async def search(request: Request) -> list[dict]:
        query = _text(request, "q")
        if len(query) > 1000:
            raise QueryError(
                f"the query is {len(query):,} characters long; kb searches at most 1,000"
            )
        limit = _int(request, "limit", 20, 1, MAX_LIMIT)

        def ask(kg, store) -> list[dict]:
            hits = live.session.rebuilding(lambda: api.search_hits(vault, query, limit))
            return [{**api.hit_json(h), "highlight": highlighted(h.snippet)} for h in hits]

        return await live.ask(ask)

    async def suggest(request: Request) -> dict:
        query = _text(request, "q")[:1000]

        def ask(kg, store) -> dict:
            return {"did_you_mean": live.session.rebuilding(lambda: api.suggest(vault, query))}

        return await live.ask(ask)

    async def topic(request: Request) -> dict:
        name = request.path_params["name"]
        if not name.strip():
            raise BadRequest("give a topic: /api/topic/NAME")
        limit = _int(request, "limit", 50, 1, MAX_LIMIT)

        def ask(kg, store) -> dict:
            def found(n: str):
                return live.session.rebuilding(lambda: api.found_in(vault, n))

            return api.cut(api.show(kg, name, found), CARD_LISTS, limit)

        return await live.ask(ask)

    async def path(request: Request) -> dict:
        a, b = _text(request, "from"), _text(request, "to")
        return await live.ask(lambda kg, store: api.find_path(kg, a, b))

    async def neighbors(request: Request) -> dict:
        name = _text(request, "topic")
        depth = _int(request, "depth", 1, 1, MAX_DEPTH)
        limit = _int(request, "limit", 50, 1, MAX_LIMIT)
        kinds = request.query_params.getlist("kind") or None
        from kb.nodes import NODE_KINDS

        unknown = sorted(set(kinds or ()) - set(NODE_KINDS))
        if unknown:
            raise BadRequest(f"no node kind {unknown[0][:40]!r}; kinds are {', '.join(NODE_KINDS)}")
        return await live.ask(
            lambda kg, store: api.cut(api.neighbors(kg, name, depth, kinds), ("neighbors",), limit)
        )

    async def graph(request: Request) -> dict:
        name = _text(request, "topic")
        depth = _int(request, "depth", 1, 1, MAX_DEPTH)
        most = _int(request, "max", GRAPH_NODES, 1, MAX_GRAPH_NODES)
        return await live.ask(lambda kg, store: graph_around(kg, name, depth, most))

    async def note(request: Request) -> dict:
        rel = request.path_params["path"]
        heading = request.query_params.get("heading")
        return await live.ask(lambda kg, store: api.read_note(vault, store, rel, heading))

    async def events(request: Request) -> Response:
        queue: asyncio.Queue = asyncio.Queue()
        live.listeners.add(queue)

        async def stream():
            try:
                hello = {"version": live.session.version}
                yield f"event: hello\ndata: {json.dumps(hello)}\n\n"
                quiet = 0.0
                while not live.stopping.is_set():
                    try:
                        event = await asyncio.wait_for(queue.get(), 0.25)
                    except asyncio.TimeoutError:
                        quiet += 0.25
                        if quiet >= 15:  # a comment now and then keeps proxies and tabs awake
                            quiet = 0.0
                            yield ": still here\n\n"
                        continue
                    yield f"event: changed\ndata: {json.dumps(event, ensure_ascii=True)}\n\n"
            finally:
                live.listeners.discard(queue)

        return StreamingResponse(stream(), media_type="text/event-stream")

    routes = [
        Route("/", home),
        Route("/static/{name}", static),
        Route("/favicon.ico", favicon),
        Route("/api/status", endpoint(status)),
        Route("/api/search", endpoint(search)),
        Route("/api/suggest", endpoint(suggest)),
        Route("/api/topic/{name:path}", endpoint(topic)),
        Route("/api/path", endpoint(path)),
        Route("/api/neighbors", endpoint(neighbors)),
        Route("/api/graph", endpoint(graph)),
        Route("/api/note/{path:path}", endpoint(note)),
        Route("/api/events", events),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(404, f"no page {request.url.path[:80]!r} here; the API is under /api/")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return _error(405, "kb serve only answers GET requests")

    async def broken(request: Request, exc: Exception) -> Response:
        return _failure(exc)

    app = Starlette(
        routes=routes,
        exception_handlers={404: not_found, 405: not_allowed, 500: broken},
    )
    return Guard(app, port)  # type: ignore[return-value]


class Guard:
    """ASGI middleware: refuse requests not meant for this server, add safety headers."""

    def __init__(self, app: Any, port: int):
        self.app = app
        self.hosts = {f"{HOST}:{port}", f"localhost:{port}"}
        self.origins = {f"http://{h}" for h in self.hosts}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        origin = headers.get("origin")
        refusal = None
        if host.lower() not in self.hosts:
            refusal = (403, f"refused: Host {host[:80]!r} is not this server ({HOST}:…)")
        elif origin is not None and origin.lower() not in self.origins:
            refusal = (403, f"refused: a page from {origin[:80]!r} may not ask this server")
        elif headers.get("sec-fetch-site") == "cross-site":
            refusal = (403, "refused: another site's page may not ask this server")
        elif scope["method"] not in ("GET", "HEAD"):
            refusal = (405, "kb serve only answers GET requests")

        async def safe_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        if refusal is not None:
            return await _error(*refusal)(scope, receive, safe_send)
        return await self.app(scope, receive, safe_send)


# -- running it -----------------------------------------------------------------------------


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as e:
        sock.close()
        raise KbError(
            f"cannot listen on {HOST}:{port} ({e.strerror}); choose another --port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _say_reading(vault: Vault) -> None:
    print(
        f"kb serve: reading the notes of {vault.name} before serving (the first time, kb indexes"
        " every note once: minutes on a large vault)…",
        file=sys.stderr,
        flush=True,
    )


def serve(vault: Vault, port: int = 8765, open_browser: bool = False) -> None:
    """Serve ``vault`` on 127.0.0.1:``port`` until Ctrl-C, refreshing as files change."""
    import uvicorn

    from kb import watch

    sock = bind(port)
    port = sock.getsockname()[1]
    live = Live(vault)
    start = time.perf_counter()
    # The session's refresh draws no progress bar, on a terminal or in a log: a long first
    # read of the vault would be silence, so say what is going on past a second.
    said = threading.Timer(1.0, _say_reading, args=(vault,))
    said.start()
    try:
        live.worker.submit(live.session.fresh).result()  # reads the vault before the first page
    finally:
        said.cancel()
    live.announced = live.session.version
    app = build(vault, live, port)
    watching = threading.Event()

    def ready() -> None:
        live.session.watched = True
        live.changed(set())  # what changed while the watch was being set up
        watching.set()

    def watch_files() -> None:
        try:
            watch.run(vault, live.stopping, live.changed, ready)
        except Exception as e:  # (too many folders for inotify, the vault unmounted…)
            notice(
                f"stopped watching the vault's files ({_one_line(e)}); each request now"
                " checks them for changes"
            )
        finally:
            live.session.watched = False  # each request stats the notes again
            live.session.changed()

    watcher = threading.Thread(target=watch_files, name="kb-watch", daemon=True)
    watcher.start()
    if not watching.wait(10):
        notice("the vault's files could not be watched yet; each request checks them instead")

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            live.stopping.set()  # event streams end, so the server need not wait for them
            super().handle_exit(sig, frame)

        async def startup(self, sockets: list | None = None) -> None:
            live.loop = asyncio.get_running_loop()
            await super().startup(sockets)
            url = f"http://{HOST}:{port}/"
            print(
                f"kb serve: {url}  ({vault.name}, ready in {time.perf_counter() - start:.1f} s;"
                " Ctrl-C to stop)",
                file=sys.stderr,
                flush=True,
            )
            if open_browser:
                import webbrowser

                threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        server_header=False,
    )
    server = Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn raises the captured Ctrl-C again once it has stopped
    finally:
        live.close()
        watcher.join(timeout=2)
        sock.close()
    print("kb serve: stopped", file=sys.stderr, flush=True)
