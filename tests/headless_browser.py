"""A real headless browser for the tests, installed from PyPI alone: the Chromium that
kaleido 0.2.1 bundles, driven through kaleido's own stdin protocol.

Why this browser (checked on the project's machine, whose only outside access is the
package registries):

- `playwright` installs from PyPI, but its browsers do not: `playwright install
  chromium` downloads Chrome for Testing from a CDN, which fails there ("Download
  failure", tried). pyppeteer, selenium (selenium-manager) and kaleido 1.x
  (choreographer) likewise download a Chrome or expect one installed.
- PyQt6-WebEngine bundles a current Chromium (140) and runs offscreen, but links about
  fifty system libraries (X11, NSS, ALSA, D-Bus, fontconfig, krb5...) that a bare
  machine lacks, and weighs 0.5 GB.
- kaleido 0.2.1 (a manylinux/macOS/Windows wheel, `py2.py3-none`, so any Python)
  bundles a headless Chromium 88 with its own NSS and fonts; it needs only glibc. It
  has no DevTools port and no `--dump-dom`: it opens a blank page, runs local scripts
  given by `--plotlyjs`, and answers each JSON line on stdin with the JSON of
  `kaleido_scopes.plotly(line)`. `headless_browser.js` is that script: it replaces
  `kaleido_scopes.plotly` with a page checker (see its header).

So `kaleido>=0.2.1,<0.3` is in the `dev` extra; 1.x bundles no browser. The checker
loads the page's HTML into an iframe with one script first in its `<head>` that
records console errors, uncaught exceptions, failed resource loads and unhandled
rejections; the page's bytes are otherwise as written.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).with_name("headless_browser.js")
#: Chromium's switches: no sandbox (root in CI containers), no GPU (none there), /tmp for
#: shared memory (small /dev/shm in containers).
SWITCHES = ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage")


class BrowserUnavailable(RuntimeError):
    """The browser is installed but cannot start on this machine (the tests skip)."""


@dataclass(frozen=True)
class PageCheck:
    """What the headless browser saw of a page once its plotly charts were drawn."""

    errors: list[str]
    warnings: list[str]
    title: str
    compat_mode: str
    graph_divs: int
    plots: list[dict[str, Any]]
    external: list[str]
    text: str
    #: with `slider_suffix`: the slider's move (`headless_browser.js`: `via`, the active
    #: step and the visible traces `before` and `after`, the chart as a PNG data URL)
    slider: dict[str, Any] | None = None


def kaleido_command() -> tuple[list[str], dict[str, str], Path]:
    """The command that starts kaleido 0.2.x's Chromium, its environment and its working
    folder; AssertionError with the install command when it is not there.

    On Linux and macOS, what the wheel's launcher (`kaleido/executable/kaleido`, nine
    lines of bash) does, without its unquoted `$@`, which splits a path with a space:
    its own libraries and fonts, and its folder as the working folder (the binary reads
    `./js/kaleido_scopes.js`). On Windows, the launcher `kaleido.cmd`."""
    spec = importlib.util.find_spec("kaleido")
    assert spec is not None and spec.origin is not None, (
        "kaleido 0.2.1 (the tests' headless Chromium) is not installed: "
        "pip install -e '.[dev]'")
    folder = Path(spec.origin).parent / "executable"
    binary = folder / ("kaleido.cmd" if os.name == "nt" else "bin/kaleido")
    assert binary.is_file(), (
        f"{folder} has no {binary.name}: kaleido >= 1 bundles no browser; "
        "pip install 'kaleido>=0.2.1,<0.3'")
    env = dict(os.environ)
    if os.name != "nt":
        env.pop("LD_PRELOAD", None)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            [str(folder / "lib"), *filter(None, [env.get("LD_LIBRARY_PATH")])])
        env["FONTCONFIG_PATH"] = str(folder / "etc" / "fonts")
        env["XDG_DATA_HOME"] = str(folder / "xdg")
    return [str(binary)], env, folder


def check_page(html: str, width_px: int = 1200, height_px: int = 900,
               wait_s: float = 20.0, slider_suffix: str | None = None) -> PageCheck:
    """Load `html` in the headless Chromium and report what it saw once every chart is
    drawn, or after `wait_s`; with `slider_suffix`, then move the slider of the chart
    whose id ends with it and report the move (`PageCheck.slider`). BrowserUnavailable
    when Chromium does not start; AssertionError when it started but the check did not
    finish."""
    start, env, folder = kaleido_command()
    spec = {"html": html, "width_px": width_px, "height_px": height_px,
            "timeout_ms": int(wait_s * 1000), "slider_suffix": slider_suffix}
    command = [*start, "plotly", f"--plotlyjs={DRIVER}", *SWITCHES]
    stdout, stderr, code = _run(command, json.dumps(spec) + "\n", env, folder, wait_s + 60)
    lines = [line for line in stdout.splitlines() if line.strip()]
    started = [json.loads(line) for line in lines[:1] if line.startswith("{")]
    if not started or started[0].get("code") != 0:
        raise BrowserUnavailable(
            f"kaleido's Chromium did not start (exit {code}): "
            f"{(lines[:1] or [''])[0][:300]} {stderr.strip()[-600:]}")
    assert len(lines) >= 2, f"no answer from the page checker (exit {code}): {stderr[-2000:]}"
    answer = json.loads(lines[1])
    assert "errors" in answer, f"the page checker failed: {str(answer)[:2000]}"
    return PageCheck(**{k: answer[k] for k in PageCheck.__dataclass_fields__
                        if k in answer})


def _run(command: list[str], stdin: str, env: dict[str, str], folder: Path,
         timeout_s: float) -> tuple[str, str, int | None]:
    """(stdout, stderr, exit status or None on a timeout) of the browser, in a process
    group of its own: on a timeout the whole group (Chromium's zygotes, renderer and GPU
    processes) is killed, not only the process started."""
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                env=env, cwd=folder, start_new_session=os.name != "nt")
    except OSError as exc:
        raise BrowserUnavailable(f"kaleido's Chromium did not run: {exc}") from None
    try:
        stdout, stderr = proc.communicate(stdin, timeout=timeout_s)
        return stdout, stderr, proc.returncode
    except subprocess.TimeoutExpired:
        if os.name == "nt":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        return stdout, stderr, None
