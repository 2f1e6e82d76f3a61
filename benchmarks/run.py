"""Run every benchmark workload under this package, the reference implementation and raw asyncio; compare them.

    python benchmarks/run.py                 # full scale, 5 repetitions each (a few minutes on 2 cores)
    python benchmarks/run.py --quick --repeat 2 --workloads chain many_calls

The reference (`miniagents==0.0.35` from the package index) is installed into its own virtual environment
(`benchmarks/.venv-reference`) the first time. Both implementations import as `miniagents`, so each runs in its own
interpreter (`benchmarks/workloads.py`); the workloads run one after another, each under the three implementations in
turn, so that a change in machine load affects them alike. The table of medians is printed and written to
`benchmarks/results/latest.json` and `benchmarks/results/latest.md`.

Then the companion benchmarks run, each in its own interpreter, and their tables are added to `latest.md` (skip them
with `--skip-companions`): what watching costs (`observability.py`: observers attached vs none, nesting depth, the
garbage collector on a 100,000-agent fan-out), the SQLite store against raw `sqlite3` (`store_throughput.py`), the
LLM path against the OpenAI SDK used directly (`llm_path.py`) and OpenTelemetry export (`otel_overhead.py`).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import venv
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from workloads import WORKLOADS

__all__ = ["IMPLEMENTATION_LABELS", "REFERENCE_VERSION", "ensure_reference_python", "main", "render_markdown"]

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS_DIR.parent
REFERENCE_VERSION = "0.0.35"
DEFAULT_REFERENCE_VENV = BENCHMARKS_DIR / ".venv-reference"
RESULTS_DIR = BENCHMARKS_DIR / "results"
IMPLEMENTATION_LABELS = {
    "ours": "ours",
    "reference": f"reference {REFERENCE_VERSION}",
    "raw": "raw asyncio",
}


def _venv_python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _installed_reference_version(python: Path) -> str | None:
    probe = subprocess.run(
        [str(python), "-c", "from importlib.metadata import version; print(version('miniagents'))"],
        capture_output=True,
        text=True,
        env=_isolated_env(),
        check=False,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_reference_python(venv_dir: Path) -> Path:
    """The interpreter of a virtual environment holding `miniagents==REFERENCE_VERSION` (created when missing).

    pydantic is pinned to the version this package runs with, so that the comparison measures the two
    implementations rather than two pydantic releases (unpinned if the reference refuses that version).
    """
    python = _venv_python(venv_dir)
    if python.exists() and _installed_reference_version(python) == REFERENCE_VERSION:
        return python
    print(f"Installing miniagents=={REFERENCE_VERSION} into {venv_dir} ...", file=sys.stderr)
    venv.create(venv_dir, with_pip=True, clear=python.exists())
    install = [str(python), "-m", "pip", "install", "--quiet", f"miniagents=={REFERENCE_VERSION}"]
    pinned = _pip(*install, f"pydantic=={metadata.version('pydantic')}")
    if pinned.returncode != 0:
        print("Pinning pydantic failed; installing the reference with the pydantic it asks for.", file=sys.stderr)
        unpinned = _pip(*install)
        if unpinned.returncode != 0:
            print(unpinned.stdout, unpinned.stderr, sep="\n", file=sys.stderr)
    if _installed_reference_version(python) != REFERENCE_VERSION:
        raise RuntimeError(
            f"miniagents=={REFERENCE_VERSION} is not importable from {venv_dir} after installing it; delete that "
            "folder and run again, or pass --skip-reference to benchmark without the reference."
        )
    return python


def _pip(*command: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(command, capture_output=True, text=True, env=_isolated_env(), check=False)


def _isolated_env(pythonpath: Path | None = None) -> dict[str, str]:
    """The environment of a child interpreter: only `pythonpath` (if any) decides which `miniagents` it imports."""
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def _run_impl(impl: str, python: Path, workload: str, repeat: int, quick: bool) -> dict[str, Any]:
    """Run one workload of one implementation in a child interpreter; its JSON report, or `{"error": ...}`."""
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "result.json"
        command = [str(python), str(BENCHMARKS_DIR / "workloads.py"), "--impl", impl, "--workloads", workload]
        command += ["--repeat", str(repeat), "--output", str(output), *(["--quick"] if quick else [])]
        # ours must come from this working tree; the reference only from its own virtual environment
        env = _isolated_env(REPO_ROOT if impl != "reference" else None)
        completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=BENCHMARKS_DIR, check=False)
        if completed.returncode != 0:
            return {"error": completed.stderr.strip().splitlines()[-3:] or [f"exit code {completed.returncode}"]}
        report = json.loads(output.read_text())
    _check_origin(impl, report["environment"], python)
    return report


def _check_origin(impl: str, environment: dict[str, Any], python: Path) -> None:
    """Refuse a result measured with the wrong `miniagents` (e.g. ours imported by the reference interpreter)."""
    if impl == "raw":
        return
    package_dir = Path(environment["miniagents_path"]).resolve()
    is_ours = package_dir.is_relative_to(REPO_ROOT) and not package_dir.is_relative_to(python.parent.parent.resolve())
    if is_ours != (impl == "ours"):
        raise RuntimeError(f"The `{impl}` run imported miniagents from {package_dir}, which is the wrong package.")


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def run_benchmarks(arguments: argparse.Namespace) -> dict[str, Any]:
    """Run the selected workloads under every implementation, interleaved per workload; the combined results."""
    pythons = {"ours": Path(sys.executable), "raw": Path(sys.executable)}
    if not arguments.skip_reference:
        pythons["reference"] = ensure_reference_python(arguments.reference_venv)
    impls = [impl for impl in IMPLEMENTATION_LABELS if impl in pythons]
    environments: dict[str, Any] = {}
    workloads: dict[str, Any] = {}
    for name in arguments.workloads:
        workload = WORKLOADS[name]
        scale = workload.quick_scale if arguments.quick else workload.scale
        print(f"{name}: {workload.describe(scale)}", file=sys.stderr)
        medians: dict[str, float | None] = {}
        entry: dict[str, Any] = {
            "description": workload.describe(scale),
            "raw_baseline": workload.raw_baseline,
            "scale": dict(scale),
            "unit": workload.unit,
            "impls": {},
        }
        for impl in impls:
            report = _run_impl(impl, pythons[impl], name, arguments.repeat, arguments.quick)
            if "error" in report:
                print(f"  {IMPLEMENTATION_LABELS[impl]}: FAILED: {report['error']}", file=sys.stderr)
                entry["impls"][impl] = report
                medians[impl] = None
                continue
            environments[impl] = report["environment"]
            result = report["workloads"][name]
            entry["impls"][impl] = {"median": result["median"], "samples": result["samples"]}
            medians[impl] = result["median"]
            print(
                f"  {IMPLEMENTATION_LABELS[impl]}: {_format_value(result['median'], workload.unit)}", file=sys.stderr
            )
        if workload.work_items is not None and "scale" in entry:
            entry["work_item"] = workload.work_item
            entry["work_items"] = workload.work_items(**entry["scale"])
        entry["ratios"] = {
            "reference/ours": _ratio(medians.get("reference"), medians.get("ours")),
            "ours/raw": _ratio(medians.get("ours"), medians.get("raw")),
        }
        workloads[name] = entry
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "repeat": arguments.repeat,
        "quick": arguments.quick,
        "cpu_count": os.cpu_count(),
        "environments": environments,
        "workloads": workloads,
    }


def _format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "failed"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value >= 0.01 else f"{value * 1000:.2f} ms"
    return f"{value:,.0f} B"


def _format_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}x"


def _format_per_item(entry: dict[str, Any], impl: str) -> str:
    median = entry["impls"].get(impl, {}).get("median")
    if median is None or "work_items" not in entry:
        return "-"
    return f"{median / entry['work_items'] * 1e6:.2f} µs"


def render_markdown(results: dict[str, Any]) -> str:
    """The results as a markdown report: medians, ratios, and the cost of one work item per implementation."""
    impls = [impl for impl in IMPLEMENTATION_LABELS if any(impl in e["impls"] for e in results["workloads"].values())]
    labels = [IMPLEMENTATION_LABELS[impl] for impl in impls]
    lines = [
        "# MiniAgents benchmarks",
        "",
        f"`{results['command']}` — {results['generated_at']}, median of {results['repeat']} repetitions"
        f"{' (quick scale)' if results['quick'] else ''}, {results['cpu_count']} CPUs.",
        "",
        "| workload | " + " | ".join(labels) + " | reference/ours | ours/raw |",
        "|---|" + "---:|" * (len(labels) + 2),
    ]
    for name, entry in results["workloads"].items():
        values = [_format_value(entry["impls"].get(impl, {}).get("median"), entry["unit"]) for impl in impls]
        ratios = [_format_ratio(entry["ratios"][key]) for key in ("reference/ours", "ours/raw")]
        lines.append(f"| {name} | " + " | ".join(values + ratios) + " |")
    lines += ["", "Per work item (median time / number of items):", ""]
    lines += ["| workload | item | " + " | ".join(labels) + " |", "|---|---|" + "---:|" * len(labels)]
    for name, entry in results["workloads"].items():
        if "work_items" in entry:
            per_item = [_format_per_item(entry, impl) for impl in impls]
            lines.append(f"| {name} | {entry['work_items']:,} x {entry['work_item']} | " + " | ".join(per_item) + " |")
    lines += ["", "Workloads:", ""]
    for name, entry in results["workloads"].items():
        lines.append(f"- `{name}`: {entry['description']}. Raw asyncio: {entry['raw_baseline']}.")
    lines += ["", "Interpreters:", ""]
    for impl, environment in results["environments"].items():
        package = f", miniagents {environment['miniagents_version']}" if "miniagents_version" in environment else ""
        pydantic = f", pydantic {environment['pydantic_version']}" if "pydantic_version" in environment else ""
        lines.append(f"- {IMPLEMENTATION_LABELS[impl]}: Python {environment['python']}{package}{pydantic}")
    return "\n".join(lines) + "\n"


COMPANIONS: dict[str, list[str]] = {
    "observability.py": [],
    "store_throughput.py": [],
    "llm_path.py": [],
    "otel_overhead.py": [],
}
"""Benchmarks of this package alone, each comparing variants side by side in one run (printed as ratios)."""


def run_companions(quick: bool) -> str:
    """Run each companion benchmark in its own interpreter; return what each printed, as markdown sections."""
    sections = ["", "# Companion benchmarks", ""]
    for script, options in COMPANIONS.items():
        command = [sys.executable, str(BENCHMARKS_DIR / script), *options, *(["--quick"] if quick else [])]
        print(f"Running {script} ...", file=sys.stderr)
        completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
        output = (
            completed.stdout.strip()
            if completed.returncode == 0
            else f"failed:\n\n```\n{completed.stderr[-2000:]}\n```"
        )
        sections += [f"## `{script}`", "", output, ""]
    return "\n".join(sections)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions per workload (default: 5)")
    parser.add_argument("--quick", action="store_true", help="small scales, for a smoke test of the whole harness")
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--skip-reference", action="store_true", help="compare only with raw asyncio")
    parser.add_argument("--reference-venv", type=Path, default=DEFAULT_REFERENCE_VENV)
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--skip-companions",
        action="store_true",
        help="only the workloads above, not the companion benchmarks (observability, store, LLM path, OpenTelemetry)",
    )
    arguments = parser.parse_args()
    if arguments.repeat < 1:
        parser.error("--repeat must be at least 1")
    arguments.reference_venv = arguments.reference_venv.resolve()
    results = run_benchmarks(arguments)
    markdown = render_markdown(results)
    if not arguments.skip_companions:
        markdown += run_companions(arguments.quick)
    arguments.output_dir.mkdir(parents=True, exist_ok=True)
    (arguments.output_dir / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (arguments.output_dir / "latest.md").write_text(markdown)
    print(markdown)
    failed = [
        name for name, entry in results["workloads"].items() if any("error" in r for r in entry["impls"].values())
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
