"""Giving back to the system the memory a finished session freed.

A session builds and drops many short-lived buffers (label textures on a software renderer, the report's PDF, the
frozen bundle's JSON). glibc's allocator keeps freed heap pages mapped for reuse, so the resident size only grows
from session to session while the app keeps far less in use; `malloc_trim(0)` returns the free pages at the top
of the heap and, since glibc 2.8, the free whole pages inside it (man 3 malloc_trim). Called when staff go back
to the patient list, between sessions, once the app has dropped the session's screens (mobile.app). Elsewhere
(macOS, Android's bionic, musl) there is no such call and nothing is done.

Before that, Kivy's texture caches (kivy.cache) are emptied: the lines every text field drew (`textinput.label`,
kept a minute after their last use) and the images loaded (`kv.image`, `kv.texture`). A session's names, readings
and notes are not drawn again in the next one; what is on screen keeps its own textures, and an image is read
again when next needed. Kivy's window empties the same caches itself when its GL context is lost. Then the cycle
collector runs once (a few hundred milliseconds on a slow machine, while staff look at the list): the dropped
screens' widgets only go that way.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import sys


@functools.lru_cache(maxsize=1)
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


# Kivy's caches of text fields' lines and of loaded images (kivy.uix.textinput, kivy.core.image)
TEXTURE_CACHES = ("textinput.label", "textinput.width", "kv.image", "kv.texture")


def collect_between_sessions(*, cycles: bool = True) -> None:
    """Empty Kivy's texture caches and, with `cycles`, collect the widgets just dropped (Kivy's widgets and kv
    rules form reference cycles, freed only by the cycle collector); `release_freed_memory` then gives the memory
    back."""
    from kivy.cache import Cache

    for category in TEXTURE_CACHES:
        Cache.remove(category)
    if cycles:
        gc.collect()


def release_freed_memory() -> bool:
    """Return the allocator's free pages to the system; False where the C library has no malloc_trim."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
