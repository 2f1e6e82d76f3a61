"""Helpers shared by the MiniAgents workloads and the raw-asyncio baselines (they must produce identical data)."""

import gc
import tracemalloc

__all__ = ["memory_text", "traced_bytes"]


def memory_text(index: int) -> str:
    """The content of the `index`-th message of the memory workload (same size in every implementation)."""
    return f"message number {index:08d}"


def traced_bytes() -> int:
    """The memory held by live Python objects right now (garbage collected first; tracemalloc must be tracing)."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0]
