"""`benchmarks/llm_path.py` at a tiny scale: both variants really stream every token, from the stand-in in its own
process and replayed, so the LLM-path comparison cannot silently rot (no timing is asserted: speed is for the
benchmark)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import llm_path  # the benchmarks are scripts in a folder, not a package

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("no_real_llm_providers")]


def test_both_variants_receive_every_token_from_the_stand_in_in_another_process() -> None:
    measured = llm_path.run_rounds(calls=4, repeat=1, token_delay=0.0)

    for tokens in (measured["tokens"], measured["replayed"]["tokens"]):
        assert tokens["direct SDK"] == tokens["OpenAIAgent"]
        assert 40 <= tokens["direct SDK"] / 4 <= 60  # the prompt is sized for about 50 streamed tokens per reply
    for samples in [*measured["samples"].values(), *measured["replayed"]["samples"].values()]:
        assert len(samples["cpu"]) == len(samples["wall"]) == 1
    table = llm_path.render_markdown(measured, "python benchmarks/llm_path.py --tiny")
    assert "| direct SDK |" in table
    assert "| OpenAIAgent |" in table
    assert "Median of the per-round ratios" in table
    assert "| direct SDK (replayed) |" in table
