"""nbgrader's formgrader, the page TAs grade written answers in, served for real on 127.0.0.1.

``Formgrader(paths)`` starts ``jupyter server`` with nbgrader's formgrader extension over a
grading folder (its autograded notebooks and course gradebook), with a token, and gives its REST
API (the calls formgrader's own page makes); ``DevTools`` drives headless Chromium to look at its
pages and screenshot them.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from autograder.grading import COURSE_ID, GradingPaths

MATHJAX_STAND_IN = """\
window.MathJax = {
  Hub: {
    Config: function () {}, Configured: function () {}, Queue: function () {},
    Typeset: function () {}, Register: {StartupHook: function () {}},
    Startup: {signal: {Interest: function (callback) { setTimeout(function () {
      callback("End"); }, 0); }}}
  }
};
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Formgrader:
    """A formgrader server over ``paths`` (use as a context manager)."""

    def __init__(self, paths: GradingPaths, workdir: Path) -> None:
        self.paths, self.workdir = paths, workdir
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Formgrader:
        dirs = self.paths.course_dirs
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "exchange").mkdir(exist_ok=True)
        settings = {
            "course_id": COURSE_ID, "root": str(self.workdir),
            "release_directory": str(dirs.release), "submitted_directory": str(dirs.submitted),
            "autograded_directory": str(dirs.autograded),
            "feedback_directory": str(dirs.feedback), "db_url": dirs.url,
        }
        config = ["c = get_config()"]
        config += [f"c.CourseDirectory.{key} = {value!r}" for key, value in settings.items()]
        config += [f"c.Exchange.root = {str(self.workdir / 'exchange')!r}"]

        (self.workdir / "nbgrader_config.py").write_text("\n".join(config) + "\n")
        command = [
            str(Path(sys.executable).parent / "jupyter"), "server", "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={self.port}", f"--ServerApp.token={self.token}",
            f"--ServerApp.root_dir={self.workdir}",
            "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}",
        ]
        log = (self.workdir / "server.log").open("wb")
        self.process = subprocess.Popen(command, cwd=self.workdir, stdout=log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.api("GET", "assignments")
                return self
            except OSError as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError("formgrader did not start: "
                                       + (self.workdir / "server.log").read_text()[-2000:]
                                       ) from exc
                time.sleep(0.3)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call formgrader's REST API (``/formgrader/api/<path>``) as its page does."""
        request = urllib.request.Request(
            f"{self.url}/formgrader/api/{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def page_url(self, path: str) -> str:
        return f"{self.url}/{path}{'&' if '?' in path else '?'}token={self.token}"


class DevTools:
    """Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
    JSON messages ending in NUL on file descriptors 3 and 4), to screenshot part of a page.

    Every request the page makes passes through here: those to 127.0.0.1 get the server's token
    (``token``), and MathJax, which formgrader's page loads from a CDN a test machine cannot
    reach, is answered with a stand-in (its scripts start only once MathJax has loaded; formulas
    then stay as TeX source).
    """

    def __init__(self, token: str = "") -> None:
        import os

        self.token = token
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def pipes_on_3_and_4() -> None:  # in the child: Chromium reads fd 3, writes fd 4
            import fcntl

            read = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            write = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.process = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--remote-debugging-pipe", "--window-size=1200,1000"],
            pass_fds=(3, 4), preexec_fn=pipes_on_3_and_4,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next = 0
        self._buffer = b""
        self.session = ""

    # --- the protocol ------------------------------------------------------------------------

    def _send(self, method: str, **params: Any) -> int:
        import os

        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        return self._next

    def _receive(self, timeout: float | None) -> dict[str, Any] | None:
        """The next message (None when ``timeout`` passes first)."""
        import os
        import select

        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_chrome], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    def _on_event(self, message: dict[str, Any]) -> None:
        if message.get("method") != "Fetch.requestPaused":
            return
        params = message["params"]
        request = params["request"]
        if "mathjax" in request["url"].lower() and "127.0.0.1" not in request["url"]:
            import base64

            self._send("Fetch.fulfillRequest", requestId=params["requestId"], responseCode=200,
                       responseHeaders=[{"name": "Content-Type",
                                         "value": "application/javascript"}],
                       body=base64.b64encode(MATHJAX_STAND_IN.encode()).decode())
            return
        headers = [{"name": k, "value": v} for k, v in request.get("headers", {}).items()]
        if self.token and request["url"].startswith("http://127.0.0.1"):
            headers.append({"name": "Authorization", "value": f"token {self.token}"})
        self._send("Fetch.continueRequest", requestId=params["requestId"], headers=headers)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command; return its result (events that arrive meanwhile are handled)."""
        wanted = self._send(method, **params)
        while True:
            message = self._receive(timeout=60)
            if message is None:
                raise RuntimeError(f"{method}: Chromium did not answer within 60 s")
            if "method" in message:
                self._on_event(message)
            elif message.get("id") == wanted:
                problem = message.get("error") or message.get("result", {}).get(
                    "exceptionDetails")
                if problem:
                    raise RuntimeError(f"{method}: {problem}")
                return dict(message.get("result", {}))

    def wait(self, seconds: float) -> None:
        """Let the page run for ``seconds``, answering its requests."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            message = self._receive(timeout=left)
            if message is not None and "method" in message:
                self._on_event(message)

    # --- pages -------------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Open ``url`` in a new tab, every request of it passing through :meth:`_on_event`."""
        self.session = ""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Fetch.enable", patterns=[{"urlPattern": "*"}])
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page opened last."""
        return self.call("Runtime.evaluate", expression=expression,
                         returnByValue=True)["result"].get("value")

    def screenshot(self, url: str, path: Path, element_id: str = "", height: int = 900,
                   settle_s: float = 4.0) -> None:
        """Open ``url``, wait until the element ``element_id`` exists and ``settle_s`` more for
        the page's scripts, and save ``height`` pixels of the page from just above that
        element (the notebook cell that holds it), or from the top."""
        import base64

        self.open(url)
        wanted = json.dumps(element_id)
        expression = (
            "(() => { const e = " + (f"document.getElementById({wanted})" if element_id
                                     else "document.body")
            + "; if (!e) return -1; const c = e.closest('.cell') || e;"
            " return c.getBoundingClientRect().top + window.scrollY; })()"
        )
        deadline = time.monotonic() + 60
        while (top := self.evaluate(expression)) is None or top < 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no element {element_id!r} on {url}")
            self.wait(0.5)
        self.wait(settle_s)
        top = self.evaluate(expression)
        start = max(0, top - 60) if element_id else 0
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": start, "width": 1200, "height": height, "scale": 1})
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        import os

        self.process.kill()
        self.process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
