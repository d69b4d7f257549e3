"""Headless Chromium driven over the Chrome DevTools Protocol (websockets' client): open a page with the doctor's
session cookie, run JavaScript in it, wait for what the page shows, take a full-page screenshot. Enough to see the
live part of a session page change without a reload, as a doctor would."""
from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import requests
from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH = 1100


class Browser:
    def __init__(self, profile: Path) -> None:
        assert CHROMIUM is not None
        self.proc = subprocess.Popen([
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", f"--user-data-dir={profile}",
            "--remote-debugging-port=0", f"--window-size={WIDTH},900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert time.monotonic() < deadline and self.proc.poll() is None, "Chromium did not start"
            time.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        page = next(t for t in requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
                    if t["type"] == "page")
        self._closing = contextlib.ExitStack()
        self.ws = self._closing.enter_context(connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10))
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == number:
                assert "error" not in message, message
                return message["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 30) -> None:
        """Until `expression` is true in the page; AssertionError after `seconds` (a bound, not a measure)."""
        deadline = time.monotonic() + seconds
        while not self.evaluate(f"Boolean({expression})"):
            assert time.monotonic() < deadline, f"never true: {expression}"
            time.sleep(0.2)

    def open(self, url: str, cookies: dict[str, str] | None = None) -> None:
        for name, value in (cookies or {}).items():
            self.call("Network.setCookie", name=name, value=value, url=url)
        self.call("Page.navigate", url=url)
        self.wait_for(f"location.href.startsWith({json.dumps(url.split('#')[0])}) && "
                      "document.readyState === 'complete'")

    def submit(self, form_selector: str) -> None:
        """Submit a form as a click would, and wait for the next page."""
        self.evaluate("window.relaisBefore = true")
        self.evaluate(f"document.querySelector({json.dumps(form_selector)}).requestSubmit()")
        self.wait_for("window.relaisBefore === undefined && document.readyState === 'complete'")

    def screenshot(self, target: Path) -> Path:
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=height, deviceScaleFactor=1, mobile=False)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        self.call("Emulation.clearDeviceMetricsOverride")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))
        return target

    def close(self) -> None:
        self._closing.close()
        self.proc.terminate()
        self.proc.wait(10)
