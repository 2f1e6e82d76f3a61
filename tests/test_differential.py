"""Differential tests: every scenario in `tests/differential/scenarios/` prints the same under this package and under
the reference package (`miniagents==0.0.35` from the package index), unless it declares the difference.

A scenario declares an expected difference with a comment line of its own, giving the reason:

    # expected difference: lone surrogates are escaped here,
    #   the reference keeps them

Such a scenario must still differ: once the outputs agree, the declaration is stale and the test says so. A behaviour
not yet made compatible is marked `# known gap: <what is missing>` instead: the test is an expected failure until it
is fixed (and then fails as an unexpected pass, so that the mark is removed).

The LLM scenarios talk to a stand-in of the OpenAI API (`differential/fake_openai.py`) through the real `openai` SDK,
which is installed into the reference environment beside the reference (at the version this package runs with).

The reference is installed into `benchmarks/.venv-reference` (ignored by git, shared with the benchmarks, created on
the first run and reused after). Without network that cannot happen: the test then fails in CI (`CI=true`) and is
skipped elsewhere.
"""

import fcntl
import json
import os
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
CORPUS_DIR = TESTS_DIR / "differential" / "scenarios"
RUNNER = TESTS_DIR / "differential" / "run_scenarios.py"
BENCHMARKS_DIR = REPO_ROOT / "benchmarks"
DIFFERENCE_MARK = "# expected difference:"
GAP_MARK = "# known gap:"

sys.path.insert(0, str(BENCHMARKS_DIR))
import run as benchmarks_run  # noqa: E402 - the benchmarks are scripts in a folder, not a package

SCENARIOS = sorted(path.stem for path in CORPUS_DIR.glob("s*.py"))


def _declaration(scenario: str, mark: str) -> str | None:
    """The reason given after `mark` (continued on the comment lines right below it), or None without the mark."""
    lines = [line.strip() for line in (CORPUS_DIR / f"{scenario}.py").read_text().splitlines()]
    for index, line in enumerate(lines):
        if line.lower().startswith(mark):
            reason = [line[len(mark) :].strip()]
            for continuation in lines[index + 1 :]:
                if not continuation.startswith("#"):
                    break
                reason.append(continuation.lstrip("# "))
            return " ".join(part for part in reason if part) or "(no reason given)"
    return None


def _child_env(pythonpath: Path | None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    env["PYTHONHASHSEED"] = "0"
    env["MINIAGENTS_DIFFERENTIAL"] = "1"
    return env


def _reference_python() -> Path:
    lock_path = Path(tempfile.gettempdir()) / "miniagents-venv-reference.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test workers must not build the same environment at once
        try:
            python = benchmarks_run.ensure_reference_python(benchmarks_run.DEFAULT_REFERENCE_VENV)
            _ensure_openai_sdk(python)
            return python
        except Exception as error:
            message = (
                f"could not install miniagents=={benchmarks_run.REFERENCE_VERSION} into "
                f"{benchmarks_run.DEFAULT_REFERENCE_VENV} (needs the package index): {error}"
            )
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(message)
            pytest.skip(message)


def _ensure_openai_sdk(python: Path) -> None:
    """The reference's OpenAI agent needs the `openai` SDK, which it does not install itself."""
    probe = [str(python), "-c", "import openai"]
    if subprocess.run(probe, capture_output=True, env=_child_env(None), check=False).returncode == 0:
        return
    install = [str(python), "-m", "pip", "install", "--quiet", f"openai=={metadata.version('openai')}"]
    completed = subprocess.run(install, capture_output=True, text=True, env=_child_env(None), check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"installing the openai SDK failed: {completed.stderr[-2000:]}")


def _run_corpus(python: Path, pythonpath: Path | None, output: Path) -> dict[str, Any]:
    # the working directory is the corpus, not the repository, so that the reference never imports our package
    completed = subprocess.run(
        [str(python), str(RUNNER), str(CORPUS_DIR), str(output)],
        capture_output=True,
        text=True,
        env=_child_env(pythonpath),
        cwd=CORPUS_DIR,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(output.read_text())


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    reference_python = _reference_python()
    scratch = tmp_path_factory.mktemp("differential")
    ours = _run_corpus(Path(sys.executable), REPO_ROOT, scratch / "ours.json")
    reference = _run_corpus(reference_python, None, scratch / "reference.json")
    assert Path(ours["__package__"]).is_relative_to(REPO_ROOT / "miniagents")
    assert not Path(reference["__package__"]).is_relative_to(REPO_ROOT / "miniagents")
    return {"ours": ours, "reference": reference}


def test_corpus_is_large_enough() -> None:
    assert len(SCENARIOS) >= 60


@pytest.mark.timeout(600)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_matches_reference(scenario: str, outputs: dict[str, dict[str, Any]]) -> None:
    ours, reference = outputs["ours"][scenario], outputs["reference"][scenario]
    gap = _declaration(scenario, GAP_MARK)
    if gap is not None:
        if ours == reference:
            pytest.fail(f"{scenario} is marked as a known gap ({gap}) but now behaves the same: remove the mark")
        pytest.xfail(f"known gap: {gap}")
    difference = _declaration(scenario, DIFFERENCE_MARK)
    if difference is None:
        assert ours == reference, f"{scenario} differs from miniagents=={benchmarks_run.REFERENCE_VERSION}"
    else:
        assert ours != reference, f"{scenario} declares a difference ({difference}) but now behaves the same"
