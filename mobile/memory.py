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

Without a display, the window's frames are also ended by the app itself (`end_frame`): the buffer swap that ends
them on a screen does nothing off screen, and the renderer's memory grew with every frame drawn.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import os
import sys
from typing import Any


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


def swap_does_not_flush() -> bool:
    """True when the window is SDL's offscreen one (no display): its EGL surface is a pbuffer, and eglSwapBuffers
    on a pbuffer does nothing (EGL 1.5, 3.10.3), so nothing ends the renderer's frame."""
    return os.environ.get("SDL_VIDEODRIVER") == "offscreen"


def end_frame(*_args: Any) -> None:
    """Bound to the window's flip when `swap_does_not_flush`: end the renderer's frame, as a buffer swap does on a
    display.

    Mesa's software renderer (llvmpipe) keeps a frame's draw commands in a scene until something flushes it, and a
    shape uploaded in the middle of a frame (Kivy uploads a new shape's vertices when it first draws it) costs the
    scene a 64 KiB block of its own. Never flushed, the scene kept every frame's blocks until it reached its size
    limit: some 35 MiB held over a morning of sessions. Flushed at each flip, a frame's blocks are freed when the
    next frame begins. glFlush does not wait for the drawing to end (glFinish would)."""
    from kivy.graphics import opengl

    opengl.glFlush()
