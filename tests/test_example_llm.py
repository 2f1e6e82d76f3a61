"""The seed's LLM example runs offline: a Yoda-speak reply streams and every record is printed with its hash key."""

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_llm_example_runs_offline(tmp_path: Path) -> None:
    env = {**os.environ, "MINIAGENTS_LLM_OFFLINE": "1", "MINIAGENTS_OFFLINE_TOKEN_DELAY": "0"}
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "llm_example.py")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout
    assert "How are you today?" in output  # the offline model reflects the question
    assert "Yoda-speak" in output  # and the system prompt
    assert output.count("HASH KEY:") >= 4  # the question, the answer, the call record and the reply record
    assert "AgentCallNode" in output and "AgentReplyNode" in output
