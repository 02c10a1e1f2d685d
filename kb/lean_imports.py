"""Keeps two modules whoosh imports and a search never uses out of a ``kb search`` process.

``whoosh.compat`` imports ``urllib.request`` (for a ``urlretrieve`` kb never calls) and the
``cached_property`` package imports ``asyncio`` (only to tell whether a decorated method is
a coroutine: whoosh's never are); together about 0.04 s of every search, a sixth of its
process (``python -X importtime -m kb search WORD``). Likewise ``whoosh.query.terms`` imports
``whoosh.lang.morph_en`` (16 ms of regular expressions) for the ``Variations`` query, which
kb never builds. While either of those two modules is
being executed, a stand-in for ``urllib.request`` or ``asyncio`` is in ``sys.modules``; it
is taken out right after, so every other import gets the real module. The stand-ins load the
real module the first time anything else is asked of them.

The installed whoosh is not patched: :func:`install` (run by ``kb/__init__.py``) adds an
import hook that wraps the execution of those two modules only.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import inspect
import sys
import types
from collections.abc import Callable
from contextlib import contextmanager

_STAND_INS: dict[str, str] = {
    "whoosh.compat": "urllib.request",
    "cached_property": "asyncio",
    "whoosh.query.terms": "whoosh.lang.morph_en",
}
"""Module whose execution is wrapped -> the module it imports and does not need."""


def _real(name: str) -> types.ModuleType:
    """The real module (the stand-in is out of sys.modules by the time this is called)."""
    module = sys.modules.get(name)
    if module is None or isinstance(module, _StandIn):
        sys.modules.pop(name, None)
        module = importlib.import_module(name)
    return module


class _StandIn(types.ModuleType):
    """A module that becomes the real one (``name``) on first use of anything not defined."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):  # the import system asking (__path__, __spec__…)
            raise AttributeError(attr)
        return getattr(_real(self.__name__), attr)


def _urlretrieve(*args, **kwargs):
    return _real("urllib.request").urlretrieve(*args, **kwargs)


def _variations(*args, **kwargs):
    return _real("whoosh.lang.morph_en").variations(*args, **kwargs)


def _iscoroutinefunction(func) -> bool:
    # asyncio's answer differs from inspect's only for functions asyncio itself marked.
    if "asyncio" in sys.modules and not isinstance(sys.modules["asyncio"], _StandIn):
        return sys.modules["asyncio"].iscoroutinefunction(func)
    return inspect.iscoroutinefunction(func)


_DEFINED: dict[str, dict[str, Callable]] = {
    "urllib.request": {"urlretrieve": _urlretrieve},
    "asyncio": {"iscoroutinefunction": _iscoroutinefunction},
    "whoosh.lang.morph_en": {"variations": _variations},
}


@contextmanager
def _standing_in(name: str):
    if name in sys.modules:  # already imported for real: nothing to save
        yield
        return
    stand_in = _StandIn(name)
    stand_in.__dict__.update(_DEFINED[name])
    sys.modules[name] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _STAND_INS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            with _standing_in(_STAND_INS[fullname]):
                run(module)

        spec.loader.exec_module = exec_module  # this spec's own loader object
        return spec


def install() -> None:
    """Add the import hook (once)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
