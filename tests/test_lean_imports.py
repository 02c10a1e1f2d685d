"""kb.lean_imports: whoosh without urllib.request, asyncio and morph_en, nothing else changed."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import REPO

CHECK = """
import sys
import kb.index, kb.query, kb.whoosh_safe
left_out = ('urllib.request', 'asyncio', 'whoosh.lang.morph_en')
assert not [m for m in left_out if m in sys.modules], 'imported'
from whoosh.query import Variations, terms
assert 'render' in terms.variations('rendering')  # morph_en when it is asked for
import whoosh.compat, cached_property
class A:
    @cached_property.cached_property
    def x(self):
        return 5
a = A()
assert a.x == 5 and a.__dict__['x'] == 5  # a cached_property still caches
assert 'asyncio' not in sys.modules
assert callable(whoosh.compat.urlretrieve)
import asyncio, urllib.request  # the real ones, for whoever asks
assert type(asyncio).__name__ == 'module' and asyncio.sleep and urllib.request.urlopen
async def coro():
    pass
assert cached_property.asyncio.iscoroutinefunction(coro)
assert not cached_property.asyncio.iscoroutinefunction(A)
assert cached_property.asyncio.sleep is asyncio.sleep  # the stand-in hands on to asyncio
print('ok')
"""


def test_search_path_imports_neither_urllib_request_nor_asyncio() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
