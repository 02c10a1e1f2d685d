"""A real `kb serve` in a subprocess and raw HTTP to it (tests and bench/serve_bench.py)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_URL = re.compile(r"kb serve: (http://127\.0\.0\.1:(\d+)/)")


class Server:
    """A running ``kb serve``: its URL, port and the stderr it wrote so far."""

    def __init__(self, proc: subprocess.Popen, url: str, port: int, errlog: Path):
        self.proc, self.url, self.port, self.errlog = proc, url, port, errlog

    @property
    def stderr(self) -> str:
        return self.errlog.read_text(encoding="utf-8", errors="replace")

    def request(
        self, path: str, method: str = "GET", headers: dict | None = None, timeout: float = 30
    ) -> tuple[int, dict, bytes]:
        """One raw request (the path is sent as is: no ``..`` folding)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def get(self, path: str, **kw) -> tuple[int, object]:
        status, _, body = self.request(path, **kw)
        return status, json.loads(body)

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("kb serve did not stop on Ctrl-C") from None
        return self.proc.returncode


@contextmanager
def running(vault: Path, errlog: Path, *extra: str, timeout: float = 180, port: int = 0):
    """``kb --vault VAULT [extra…] serve --port PORT`` until the block ends (then Ctrl-C)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "kb", "--vault", str(vault), *extra, "serve"]
    with open(errlog, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            start_new_session=True,  # the terminal's Ctrl-C is the test's to send, not ours
        )
    server = None
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = _URL.search(errlog.read_text(encoding="utf-8", errors="replace"))
            if m:
                server = Server(proc, m.group(1), int(m.group(2)), errlog)
                break
            if proc.poll() is not None:
                raise AssertionError("kb serve exited: " + errlog.read_text())
            time.sleep(0.05)
        else:
            raise AssertionError("kb serve printed no URL: " + errlog.read_text())
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
