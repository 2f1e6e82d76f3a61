"""Profile one benchmark workload of this package under cProfile, to find where the engine spends its time.

    python benchmarks/profile_workload.py fan_out              # top 30 functions by own time (tottime)
    python benchmarks/profile_workload.py chain --sort cumtime --top 50 --quick

The workload runs once unprofiled at quick scale first (imports, caches), then once profiled; its result is checked
like in the benchmark, so a profile of a broken run is never shown.
"""

import argparse
import asyncio
import cProfile
import pstats
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # profile this working tree's `miniagents`, whatever else is installed

from workloads import WORKLOADS, arun_workload, check_result, miniagents_implementation  # noqa: E402 - needs the path above

__all__ = ["main", "profile_workload"]


def profile_workload(name: str, quick: bool = False) -> pstats.Stats:
    """Run workload `name` of this package once under cProfile (after a warm-up run) and return its statistics.

    Only the workload itself is profiled: building its input and checking its result happen outside.
    """
    workload = WORKLOADS[name]
    function = miniagents_implementation()[name]
    asyncio.run(arun_workload(workload, function, workload.quick_scale))
    scale = workload.quick_scale if quick else workload.scale
    workload_input = workload.build_input(**scale)
    profiler = cProfile.Profile()
    profiler.enable()
    result = asyncio.run(function(workload_input))
    profiler.disable()
    check_result(workload, scale, result[1] if workload.unit == "bytes/message" else result)
    return pstats.Stats(profiler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=list(WORKLOADS))
    parser.add_argument("--top", type=int, default=30, help="how many functions to show (default: 30)")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (default: tottime)")
    parser.add_argument("--quick", action="store_true", help="profile the small scale")
    arguments = parser.parse_args()

    import miniagents

    print(f"Profiling `{arguments.workload}` with miniagents from {Path(miniagents.__file__).parent}")
    profile_workload(arguments.workload, arguments.quick).sort_stats(arguments.sort).print_stats(arguments.top)


if __name__ == "__main__":
    main()
