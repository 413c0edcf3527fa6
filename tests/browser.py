"""Open a local HTML file in headless Chromium and report what a reader would see.

``ensure_chromium()`` makes sure the Debian ``chromium`` package is installed (installing it with
apt-get when missing and running as root); ``inspect_page(path)`` loads the file in a fresh,
headless, offline browser profile and returns the console errors, uncaught JavaScript
exceptions and the rendering status of every ``<img>``.

The browser is driven through the Chrome DevTools protocol over ``--remote-debugging-pipe``
(file descriptors 3 and 4, NUL-separated JSON messages): no network port is opened and no
dependency beyond the standard library is needed.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)
APT_TIMEOUT_S = 1200.0

# Runs in the page once it has loaded: waits for every image to finish decoding (or fail),
# then describes each one. ``decode()`` rejects for broken images; that is recorded, not thrown.
_IMAGES_JS = """
(async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map((i) => i.decode().catch(() => null)));
  return {
    title: document.title,
    text: document.body ? document.body.innerText : "",
    images: imgs.map((i) => {
      const fig = i.closest("figure");
      const cap = fig ? fig.querySelector("figcaption") : null;
      return {
        src_prefix: (i.getAttribute("src") || "").slice(0, 40),
        complete: i.complete,
        natural_width: i.naturalWidth,
        natural_height: i.naturalHeight,
        alt: i.getAttribute("alt") || "",
        caption: cap ? cap.innerText : "",
      };
    }),
  };
})()
"""


class BrowserError(RuntimeError):
    """Chromium could not be installed, started or driven within the time allowed."""


@dataclass(frozen=True)
class ImageStatus:
    """One ``<img>`` of a page: how its source starts and whether it rendered."""

    src_prefix: str
    complete: bool
    natural_width: int
    natural_height: int
    alt: str
    caption: str

    @property
    def rendered(self) -> bool:
        """The image finished loading and has pixels (``complete && naturalWidth > 0``)."""
        return self.complete and self.natural_width > 0


@dataclass
class PageReport:
    """What headless Chromium saw when loading one page."""

    url: str
    title: str = ""
    text: str = ""
    images: list[ImageStatus] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """Console messages at level error and uncaught exceptions, as readable lines."""
        return [f"{level}: {text}" for level, text in self.console if level == "error"] + [
            f"exception: {e}" for e in self.exceptions
        ]


def ensure_chromium(timeout_s: float = APT_TIMEOUT_S) -> Path:
    """The headless-capable Chromium binary, installed from Debian's ``chromium`` if missing.

    Installing needs apt-get and root (or password-less sudo); otherwise ``BrowserError`` says
    what is missing.
    """
    return ensure_debian_package("chromium", CHROMIUM, timeout_s)


#: A font file with Hangul glyphs (Debian ``fonts-nanum``), for figures and screenshots.
HANGUL_FONT_FILE = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")


def ensure_hangul_font(timeout_s: float = APT_TIMEOUT_S) -> Path:
    """The Hangul font file, installed from Debian's ``fonts-nanum`` if missing."""
    return ensure_debian_package("fonts-nanum", HANGUL_FONT_FILE, timeout_s)


def ensure_debian_package(package: str, path: Path, timeout_s: float = APT_TIMEOUT_S) -> Path:
    """``path``, installing the Debian ``package`` that provides it when it is missing.

    Installing needs apt-get and root (or password-less sudo); otherwise ``BrowserError`` says
    what is missing.
    """
    if path.exists():
        return path
    apt = shutil.which("apt-get")
    sudo: list[str] = []
    if apt is not None and os.geteuid() != 0:
        # not root: password-less sudo (as on CI runners) is enough
        sudo_bin = shutil.which("sudo")
        ok = (
            sudo_bin
            and subprocess.run([sudo_bin, "-n", "true"], capture_output=True).returncode == 0
        )
        sudo = [sudo_bin, "-n", "env", "DEBIAN_FRONTEND=noninteractive"] if ok else []
    if apt is None or (os.geteuid() != 0 and not sudo):
        raise BrowserError(
            f"{path} is missing and cannot be installed here (needs apt-get and root or "
            f"password-less sudo): install the Debian package {package!r}"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    apt = [*sudo, apt]
    install = [*apt, "-o", "DPkg::Lock::Timeout=300", "install", "-y"]
    deadline = time.monotonic() + timeout_s
    last = None
    for cmd in (
        [*install, package],
        [*apt, "-o", "DPkg::Lock::Timeout=300", "update"],
        [*install, package],
    ):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            last = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=remaining, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BrowserError(f"{' '.join(cmd)} took longer than {timeout_s:.0f} s") from exc
        if cmd[-1] == package and last.returncode == 0 and path.exists():
            return path
    detail = (last.stderr or last.stdout)[-2000:] if last is not None else ""
    raise BrowserError(f"could not install {package} with apt-get:\n{detail}")


class _Pipe:
    """The DevTools protocol over a pair of pipes: send commands, collect events."""

    def __init__(self, to_browser: int, from_browser: int, deadline: float) -> None:
        self.wfd = to_browser
        self.rfd = from_browser
        self.deadline = deadline
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError("timed out waiting for Chromium")
            ready, _, _ = select.select([self.rfd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result (events received meanwhile are kept)."""
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"timed out sending {method}")
            _, ready, _ = select.select([], [self.wfd], [], remaining)
            if ready:
                data = data[os.write(self.wfd, data) :]
        while True:
            reply = self._read_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        """The first event ``method`` of ``session`` (already received or still to come)."""
        for ev in self.events:
            if ev["method"] == method and ev.get("sessionId") == session:
                return ev
        while True:
            ev = self._read_message()
            if "method" in ev:
                self.events.append(ev)
                if ev["method"] == method and ev.get("sessionId") == session:
                    return ev


def _remote_text(obj: dict[str, Any]) -> str:
    return str(obj.get("value", obj.get("description", obj.get("type", ""))))


def _collect(report: PageReport, events: list[dict[str, Any]], session: str) -> None:
    for ev in events:
        if ev.get("sessionId") != session:
            continue
        p = ev.get("params", {})
        if ev["method"] == "Runtime.consoleAPICalled":
            level = "error" if p.get("type") in ("error", "assert") else p.get("type", "log")
            report.console.append((level, " ".join(_remote_text(a) for a in p.get("args", []))))
        elif ev["method"] == "Log.entryAdded":
            e = p.get("entry", {})
            where = f" ({e['url']})" if e.get("url") else ""
            report.console.append((e.get("level", "info"), f"{e.get('text', '')}{where}"))
        elif ev["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            exc = d.get("exception", {})
            report.exceptions.append(exc.get("description") or d.get("text", "exception"))


def _screenshot(pipe: Any, session: str, out: Path, width: int) -> None:
    """A full-page PNG screenshot of the loaded page."""
    import base64

    metrics = pipe.send("Page.getLayoutMetrics", session=session)
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    height = int(min(max(size["height"], 1), 30000))
    pipe.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        session=session,
    )
    shot = pipe.send(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True},
        session=session,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))


def inspect_page(
    path: Path,
    timeout_s: float = 60.0,
    settle_s: float = 0.5,
    screenshot: Path | None = None,
    width: int = 1200,
) -> PageReport:
    """Load ``path`` (a local HTML file) in headless Chromium and describe the result.

    Raises ``BrowserError`` if Chromium is missing, fails to start, or does not finish loading
    the page within ``timeout_s`` seconds. ``settle_s`` is how long console messages are still
    collected after the images have been checked. With ``screenshot``, a PNG of the whole page
    (``width`` CSS pixels wide, full height) is written there for a person to look at.
    """
    url = Path(path).resolve().as_uri()
    binary = ensure_chromium()
    deadline = time.monotonic() + timeout_s
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    # Child-side ends, moved above fd 10 so that placing them on 3 and 4 cannot clobber them.
    child_in = fcntl.fcntl(to_r, fcntl.F_DUPFD_CLOEXEC, 10)
    child_out = fcntl.fcntl(from_w, fcntl.F_DUPFD_CLOEXEC, 10)
    for fd in (to_r, from_w):
        os.close(fd)

    def _pipe_fds() -> None:  # in the child, before exec: DevTools reads fd 3, writes fd 4
        os.dup2(child_in, 3)
        os.dup2(child_out, 4)

    with tempfile.TemporaryDirectory(prefix="cohortflow-chromium-") as profile:
        proc = subprocess.Popen(  # noqa: S603 - fixed binary and flags, local file URL
            [str(binary), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=_pipe_fds,  # noqa: PLW1509 - no threads need to run in the child
            start_new_session=True,
        )
        os.close(child_in)
        os.close(child_out)
        pipe = _Pipe(to_w, from_r, deadline)
        report = PageReport(url=url)
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            for domain in ("Runtime", "Log", "Page"):
                pipe.send(f"{domain}.enable", session=session)
            nav = pipe.send("Page.navigate", {"url": url}, session=session)
            if nav.get("errorText"):
                raise BrowserError(f"could not open {url}: {nav['errorText']}")
            pipe.wait_for("Page.loadEventFired", session)
            result = pipe.send(
                "Runtime.evaluate",
                {"expression": _IMAGES_JS, "awaitPromise": True, "returnByValue": True},
                session=session,
            )
            if "exceptionDetails" in result:
                raise BrowserError(f"page check failed: {result['exceptionDetails']}")
            value = result["result"]["value"]
            report.title = value["title"]
            report.text = value["text"]
            report.images = [ImageStatus(**img) for img in value["images"]]
            settle_until = min(time.monotonic() + settle_s, deadline)
            while time.monotonic() < settle_until:  # late console messages
                pipe.send("Runtime.evaluate", {"expression": "0"}, session=session)
                time.sleep(0.05)
            _collect(report, pipe.events, session)
            if screenshot is not None:
                _screenshot(pipe, session, Path(screenshot), width)
            try:
                pipe.send("Browser.close")
            except BrowserError:
                pass
        finally:
            for fd in (to_w, from_r):
                os.close(fd)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the session we started for Chromium
                proc.wait(timeout=10)
    return report
