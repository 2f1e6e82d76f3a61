"""Driving a notebook in JupyterLab 4 or Notebook 7 through Playwright: open it, wait for its kernel, run all cells,
take screenshots.

Commands go through `window.jupyterapp` (the server runs both front ends with `expose_app_in_browser`), which is what
JupyterLab's own UI tests do: it does not depend on menu labels or keyboard focus. Notebook 7 is built from the same
JupyterLab packages, so the same shell, notebook panel and `notebook:run-all-cells` command drive both. DOM assertions
are left to the tests.
"""

import os
import shutil
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

__all__ = ["FrontEnd", "LabNotebook"]

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
ARTIFACTS_ENV = "MINIAGENTS_E2E_ARTIFACTS"
UPDATE_DOCS_ENV = "MINIAGENTS_E2E_UPDATE_DOCS"

# Notebook 7.6.5 throws these itself while a page loads, before any cell runs; both happen with every third-party
# extension disabled and an empty notebook. They are tolerated only while the page loads; any other error counts.
_NOTEBOOK7_STARTUP_ERRORS = frozenset(
    {
        # On every page (`/tree` too): its shortcuts plugin reads the settings schema of
        # `@jupyterlab/docmanager-extension:plugin` before that plugin's settings are loaded.
        "pageerror: Cannot read properties of undefined (reading 'schema')",
        # On `/notebooks/<path>` once JupyterLab has been used on the same server: the file browser, restoring
        # itself, runs this command before the plugin that registers it is activated.
        "pageerror: Command 'filebrowser:open-path' not registered.",
    }
)


class FrontEnd(StrEnum):
    """A front end the widgets promise to work in; the same Jupyter server serves both."""

    JUPYTERLAB = "jupyterlab"
    NOTEBOOK7 = "notebook7"

    @property
    def app_name(self) -> str:
        """`window.jupyterapp.name`, to be sure which front end a page really loaded."""
        return {FrontEnd.JUPYTERLAB: "JupyterLab", FrontEnd.NOTEBOOK7: "Jupyter Notebook"}[self]

    @property
    def known_startup_errors(self) -> frozenset[str]:
        """Errors the front end itself throws while loading, whatever the page shows; any other error counts."""
        return _NOTEBOOK7_STARTUP_ERRORS if self is FrontEnd.NOTEBOOK7 else frozenset()

    def notebook_url(self, base_url: str, token: str, path: str) -> str:
        if self is FrontEnd.JUPYTERLAB:
            # `reset`: start from an empty layout, not from the tabs an earlier test left in the saved workspace.
            return f"{base_url}/lab/tree/{path}?reset&token={token}"
        return f"{base_url}/notebooks/{path}?token={token}"


_FIND_PANEL_JS = """
(path) => {
    const app = window.jupyterapp;
    if (!app) return null;
    return Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path) || null;
}
"""

_KERNEL_IDLE_JS = f"""
(path) => {{
    const panel = ({_FIND_PANEL_JS})(path);
    const kernel = panel && panel.context.isReady && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return !!kernel && kernel.status === 'idle';
}}
"""

_START_RUN_ALL_JS = f"""
(path) => {{
    const app = window.jupyterapp;
    const panel = ({_FIND_PANEL_JS})(path);
    app.shell.activateById(panel.id);
    window.__e2eRunAll = undefined;
    // The command resolves once every cell has had its reply: true when all of them succeeded.
    app.commands.execute('notebook:run-all-cells').then(
        ok => {{ window.__e2eRunAll = ok ? 'ok' : 'a cell failed'; }},
        error => {{ window.__e2eRunAll = 'command error: ' + error; }},
    );
}}
"""

_OUTPUT_MIME_TYPES_JS = f"""
(path) => {{
    const panel = ({_FIND_PANEL_JS})(path);
    const mimeTypes = [];
    for (const cell of panel.content.widgets) {{
        const outputs = cell.model.type === 'code' ? cell.model.outputs : {{ length: 0 }};
        for (let index = 0; index < outputs.length; index++) {{
            mimeTypes.push(...Object.keys(outputs.get(index).data));
        }}
    }}
    return mimeTypes;
}}
"""

_KERNEL_OUTPUT_JS = f"""
(element, path) => {{
    const panel = ({_FIND_PANEL_JS})(path);
    for (const cell of panel.content.widgets) {{
        if (cell.model.type !== 'code') continue;
        const children = cell.outputArea.widgets;  // one per output of the model, in the same order
        for (let index = 0; index < children.length; index++) {{
            if (!children[index].node.contains(element)) continue;
            const data = cell.model.outputs.get(index).data;
            return Object.fromEntries(Object.entries(data).map(
                ([mimeType, value]) => [mimeType, typeof value === 'string' ? value : JSON.stringify(value)]));
        }}
    }}
    return null;
}}
"""

_ERROR_OUTPUTS_JS = """
() => Array.from(document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"],'
    + ' .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')).map(node => node.innerText)
"""


class LabNotebook:
    """One notebook open in `page`, in JupyterLab or in Notebook 7."""

    def __init__(
        self, page: "Page", front_end: FrontEnd, base_url: str, token: str, path: str, artifacts_dir: Path
    ) -> None:
        self.page = page
        self.front_end = front_end
        self.path = path
        self.artifacts_dir = artifacts_dir
        self._url = front_end.notebook_url(base_url, token, path)
        self.console_errors: list[str] = []
        self._errors_while_loading = 0
        page.on("console", lambda message: self._note_console(message.type, message.text))
        page.on("pageerror", lambda error: self._note_console("pageerror", str(error)))

    def open(self, timeout_ms: float = 45_000) -> None:
        """Load the front end with the notebook and wait until its kernel has started and is idle."""
        self.page.goto(self._url, wait_until="domcontentloaded")
        self.page.wait_for_function(_KERNEL_IDLE_JS, arg=self.path, timeout=timeout_ms, polling=250)
        self._errors_while_loading = len(self.console_errors)
        # A redirect to the other front end would make one variant test the other's rendering twice.
        app_name = self.page.evaluate("() => window.jupyterapp.name")
        assert app_name == self.front_end.app_name, (
            f"the {self.front_end} page of {self.path} loaded {app_name!r}, not {self.front_end.app_name!r}"
        )
        # The file browser only takes room from the outputs in the screenshots.
        self.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")

    def output_mime_types(self) -> list[str]:
        """Every MIME type in the outputs the kernel sent, as JupyterLab's notebook model holds them (not the DOM)."""
        return self.page.evaluate(_OUTPUT_MIME_TYPES_JS, self.path)

    def kernel_output(self, element: "Locator") -> dict[str, str]:
        """The MIME bundle the kernel sent for the output that shows `element` (values as text), to compare with it."""
        bundle = element.evaluate(_KERNEL_OUTPUT_JS, self.path)
        assert bundle is not None, f"{element} is not inside an output of {self.path}"
        return bundle

    def start_running_all_cells(self) -> None:
        """Start running every cell and return at once (`is_running()` says when they are done)."""
        self.page.evaluate(_START_RUN_ALL_JS, self.path)

    def is_running(self) -> bool:
        """Whether the cells `start_running_all_cells()` started are not all done yet."""
        return self.page.evaluate("() => window.__e2eRunAll === undefined")

    def run_all_cells(self, timeout_ms: float = 60_000) -> None:
        """Run every cell, wait for all replies and an idle kernel; fails with the error outputs if a cell failed."""
        self.start_running_all_cells()
        self.page.wait_for_function("() => window.__e2eRunAll !== undefined", timeout=timeout_ms, polling=250)
        outcome = self.page.evaluate("() => window.__e2eRunAll")
        if outcome != "ok":
            errors = "\n---\n".join(self.page.evaluate(_ERROR_OUTPUTS_JS))
            raise AssertionError(f"Running all cells of {self.path} failed ({outcome}); error outputs:\n{errors}")
        self.page.wait_for_function(_KERNEL_IDLE_JS, arg=self.path, timeout=timeout_ms, polling=250)

    def show_at_top(self, selector: str) -> None:
        """Scroll the notebook so that the cell holding the first element matching `selector` starts at the top."""
        self.page.locator(selector).first.evaluate("node => node.closest('.jp-Cell').scrollIntoView({block: 'start'})")

    def _element_screenshot(self, element: "Locator", path: Path) -> None:
        # An element taller than the window would be cut: grow the window to fit it (JupyterLab relays out), then
        # restore the size.
        viewport = self.page.viewport_size
        box = element.bounding_box()
        if viewport is not None and box is not None and box["height"] + 200 > viewport["height"]:
            self.page.set_viewport_size({"width": viewport["width"], "height": int(box["height"]) + 200})
        try:
            element.screenshot(path=path)
        finally:
            if viewport is not None:
                self.page.set_viewport_size(viewport)

    def page_errors(self) -> list[str]:
        """Uncaught exceptions in the page so far: a front end that throws is broken even if something rendered.
        Only the front end's own known errors while it loaded (before its kernel was idle) are left out."""
        known = self.front_end.known_startup_errors
        return [
            error
            for index, error in enumerate(self.console_errors)
            if error.startswith("pageerror:") and not (index < self._errors_while_loading and error in known)
        ]

    def _note_console(self, kind: str, text: str) -> None:
        if kind in ("error", "pageerror"):
            self.console_errors.append(f"{kind}: {text}")

    def screenshot(self, name: str, selector: str | None = None, for_docs: bool = False) -> Path:
        """Save `<name>.png` (the whole window, or the first element matching `selector`) among the artifacts, and
        with `for_docs` under `docs/screenshots/` too when `MINIAGENTS_E2E_UPDATE_DOCS=1`; returns the artifact."""
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        artifact = self.artifacts_dir / f"{name}.png"
        if selector is None:
            self.page.screenshot(path=artifact)
        else:
            self._element_screenshot(self.page.locator(selector).first, artifact)
        if for_docs and os.environ.get(UPDATE_DOCS_ENV) == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(artifact, DOCS_SCREENSHOTS / artifact.name)
        return artifact
