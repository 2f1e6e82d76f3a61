"""How nbval checks the notebooks of this folder (`pytest --nbval`, which the project's pytest options turn on).

For every notebook here:

- `sanitize.cfg` (next to this file) normalises the values that change from run to run (durations, ports, ids of
  LLM responses, ...), whatever directory pytest runs from; a file given with `--nbval-sanitize-with` still applies.
- `text/html` is not compared. The static HTML copies of the views (call tree, timeline, history inspector) embed
  wall-clock durations and the positions of timeline bars, which no regex can normalise without hiding real changes.
  Every view also outputs a deterministic `text/plain` form of the same content, and that one is compared. (nbval
  itself already skips widget views, whose model ids are random.)
- The kernel runs with `MINIAGENTS_LLM_OFFLINE=1`, so the LLM agents answer from the offline stand-in even when an
  API key is set: the notebooks' stored outputs come from the stand-in, and a test run never calls a paid API.
"""

import os
from pathlib import Path
from unittest import mock

import pytest
from nbval.plugin import IPyNbFile

from miniagents.ext.llms import OFFLINE_ENV_VAR

SANITIZE_FILE = Path(__file__).with_name("sanitize.cfg")
NOT_COMPARED = ("text/html",)


def pytest_collectstart(collector: pytest.Collector) -> None:
    if not isinstance(collector, IPyNbFile):
        return
    collector.skip_compare = (*collector.skip_compare, *NOT_COMPARED)

    sanitize_files_from_options = collector.get_sanitize_files
    collector.get_sanitize_files = lambda: [*sanitize_files_from_options(), str(SANITIZE_FILE)]

    start_kernel = collector.setup

    def start_offline_kernel() -> None:
        with mock.patch.dict(os.environ, {OFFLINE_ENV_VAR: "1"}):  # the kernel inherits the environment at launch
            start_kernel()

    collector.setup = start_offline_kernel
