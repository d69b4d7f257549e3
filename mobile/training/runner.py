"""The player of a training scenario: it waits for the app, taps its buttons, and shows each screen (a pause for a
person watching, a numbered screenshot `DIR/NN-<screen>.png` when asked). It drives any object shaped like
mobile.app.RelaisApp and imports no Kivy itself, so scenarios stay plain scripts."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)


class Player:
    """What a scenario script uses: `screen(name)`, `press(button)`, `await wait_screen(name)`, `await show(name)`.
    `shots` are the screenshots written, `shown` the names of the screens shown, in order."""

    def __init__(self, app: Any, screenshots_dir: Path | None = None, *, pause: float | None = None,
                 on_screen: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.screenshots_dir = Path(screenshots_dir) if screenshots_dir is not None else None
        self.pause = (0.25 if screenshots_dir else 1.5) if pause is None else pause
        self.on_screen = on_screen
        self.shots: list[Path] = []
        self.shown: list[str] = []

    # -- the app --------------------------------------------------------------------------------------------------
    @property
    def current(self) -> str:
        return self.app.screen_manager.current

    @property
    def models(self) -> Any:
        return self.app.models

    @property
    def workflow(self) -> Any:
        return self.app.runtime.workflow

    def screen(self, name: str) -> Any:
        return self.app.screen_manager.get_screen(name)

    # -- acting ---------------------------------------------------------------------------------------------------
    @staticmethod
    def press(button: Any) -> None:
        """A tap as the app sees it (tests use real touches through the window instead)."""
        if button.disabled:
            raise RuntimeError(f"the scenario pressed a disabled button ({getattr(button, 'text', button)!r})")
        button.dispatch("on_press")
        button.dispatch("on_release")

    async def wait(self, condition: Callable[[], bool], timeout: float = 20.0, what: str = "the expected state",
                   step: float = 0.03) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            if loop.time() > deadline:
                raise TimeoutError(f"the scenario did not reach {what} (on screen: {self.current})")
            await asyncio.sleep(step)

    async def wait_screen(self, name: str, timeout: float = 20.0) -> None:
        await self.wait(lambda: self.current == name, timeout, what=f"the {name} screen")

    async def show(self, name: str) -> None:
        """Let the screen render (and a person read it), then save it as the next numbered screenshot."""
        await asyncio.sleep(self.pause)
        self.shown.append(name)
        if self.screenshots_dir is not None:
            path = self.screenshots_dir / f"{len(self.shown):02d}-{name}.png"
            self.shots.append(self.app.save_screenshot(path))
        if self.on_screen is not None:
            self.on_screen(name)


async def play(app: Any, scenario: Any, screenshots_dir: Path | None = None, *, pause: float | None = None,
               on_screen: Callable[[str], None] | None = None) -> list[Path]:
    """Play one scenario on a started app, from sign-in to the end of its script. With a sync server, the saved
    session is also shown once it has left the tablet. Returns the screenshots written."""
    player = Player(app, screenshots_dir, pause=pause, on_screen=on_screen)
    await player.wait(lambda: app.root is not None and app.start_task is not None, what="the app start")
    await scenario.script(player)
    if player.current == "saved" and getattr(getattr(app.runtime, "config", None), "server_url", None):
        try:
            await player.wait(lambda: app.sync.session_state == "sent", timeout=10, what="the session sent")
            await player.show("saved-sent")
        except TimeoutError:
            log.info("training: the session was not sent within 10 s")
    return player.shots
