"""Run every differential scenario in this interpreter and write what each printed as JSON.

    python run_scenarios.py SCENARIO_DIR OUTPUT.json

Run once under this package and once under the reference package (each in its own interpreter, since both import
as `miniagents`). Each scenario runs in a fresh namespace with its own stdout; an exception that escapes it is
recorded as the built-in exception class it derives from, so that a scenario that fails the same way under both
packages still compares equal.
"""

import contextlib
import io
import json
import runpy
import signal
import sys
import warnings
from pathlib import Path

SCENARIO_TIMEOUT_SECONDS = 20


class _ScenarioTimeoutError(BaseException):
    pass


def _on_alarm(*_: object) -> None:
    raise _ScenarioTimeoutError


def _builtin_base(error: BaseException) -> type:
    """The first built-in class among the error's bases: each package may raise its own subclass of, say, TypeError."""
    return next(cls for cls in type(error).__mro__ if cls.__module__ == "builtins")


def _run_one(script: Path) -> str:
    output = io.StringIO()
    with contextlib.redirect_stdout(output), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signal.alarm(SCENARIO_TIMEOUT_SECONDS)  # a scenario that hangs is reported, the others still run
        try:
            runpy.run_path(str(script), run_name="__main__")
        except _ScenarioTimeoutError:
            print(f"!! timed out after {SCENARIO_TIMEOUT_SECONDS} s")
        except BaseException as error:
            print(f"!! escaped: {_builtin_base(error).__name__}")
        finally:
            signal.alarm(0)
    return output.getvalue()


def main() -> None:
    scenario_dir, output_path = Path(sys.argv[1]), Path(sys.argv[2])
    import miniagents

    signal.signal(signal.SIGALRM, _on_alarm)
    results = {"__package__": str(Path(miniagents.__file__).resolve().parent)}
    for script in sorted(scenario_dir.glob("s*.py")):
        results[script.stem] = _run_one(script)
    output_path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
