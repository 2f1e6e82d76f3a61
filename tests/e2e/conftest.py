"""Fixtures for the browser tests: one Jupyter server (JupyterLab and Notebook 7) and one headless Chromium per
module, a page per test.

The tests need Debian's `chromium`, driven by the `playwright` package through its executable path (Playwright never
downloads a browser here); `e2e_requirements` decides whether their absence skips or fails.
"""

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from e2e_lab_page import ARTIFACTS_ENV, REPO_ROOT, FrontEnd, LabNotebook
from e2e_lab_server import JupyterLabServer
from e2e_requirements import chromium_path, require_module

from miniagents.ext.llms import OFFLINE_ENV_VAR

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots and logs of the run: `$MINIAGENTS_E2E_ARTIFACTS`, or a directory in pytest's tmp dir."""
    configured = os.environ.get(ARTIFACTS_ENV)
    path = Path(configured) if configured else tmp_path_factory.mktemp("e2e-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of `notebooks/` for JupyterLab to serve, so running cells never modifies the repository."""
    root = tmp_path_factory.mktemp("lab-root")
    source = REPO_ROOT / "notebooks"
    if source.is_dir():
        shutil.copytree(source, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


@pytest.fixture(scope="module")
def jupyter_lab(
    lab_root: Path, artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterLabServer]:
    """A running JupyterLab (serving Notebook 7 too); shut down with all its kernels however the tests end; leftovers
    are errors."""
    # Kernels inherit the server's environment: LLM agents answer from the offline stand-in, as under nbval.
    server = JupyterLabServer(lab_root, tmp_path_factory.mktemp("lab-state"), env={OFFLINE_ENV_VAR: "1"})
    try:
        server.start()
        yield server
    finally:
        survivors = server.stop()
        shutil.copyfile(server.log_path, artifacts_dir / "jupyterlab.log")
        assert not survivors, "JupyterLab left processes behind (killed now):\n" + "\n".join(survivors)


@pytest.fixture(scope="module")
def chromium() -> Iterator["Browser"]:
    """Headless Debian Chromium under Playwright, with the flags this sandboxed, offline machine needs."""
    for module in ("jupyterlab", "psutil"):
        require_module(module)
    sync_api = require_module("playwright.sync_api")
    executable = chromium_path()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_notebook(
    chromium: "Browser", jupyter_lab: JupyterLabServer, artifacts_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., LabNotebook]]:
    """Open a notebook (path relative to the lab root) in a fresh browser context, in JupyterLab unless `front_end`
    says otherwise; its kernel is stopped afterwards.

    Each page's last state is saved as `<test id>-last.png` among the artifacts, to see what a failing test saw.
    """
    notebooks: list[LabNotebook] = []

    def open_(path: str, front_end: FrontEnd = FrontEnd.JUPYTERLAB) -> LabNotebook:
        if front_end is FrontEnd.NOTEBOOK7:
            require_module("notebook")  # without it, the server has no `/notebooks/<path>` to load
        page = chromium.new_context(viewport=VIEWPORT).new_page()
        notebook = LabNotebook(page, front_end, jupyter_lab.base_url, jupyter_lab.token, path, artifacts_dir)
        notebooks.append(notebook)
        try:
            notebook.open()
        except Exception as error:  # Playwright's TimeoutError: say what the server said
            raise AssertionError(
                f"{front_end.app_name} did not open {path} with an idle kernel ({error}); page errors: "
                f"{notebook.console_errors}\nThe server's log:\n{jupyter_lab.log_tail()}"
            ) from error
        return notebook

    try:
        yield open_
    finally:
        test_id = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
        for number, notebook in enumerate(notebooks):
            with contextlib.suppress(Exception):
                notebook.screenshot(f"{test_id}-last{number or ''}")
            notebook.page.context.close()
        jupyter_lab.shutdown_kernels()
