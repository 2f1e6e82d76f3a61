"""End to end against a real trace backend: Arize Phoenix on loopback receives a run over OTLP/HTTP.

Phoenix lives in its own virtual environment (it pins many packages): `.venv-phoenix/bin/phoenix`, made by `.ci/run`,
or the executable named by `MINIAGENTS_PHOENIX`. Without it the test skips locally and fails in CI.
"""

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from miniagents import InteractionContext, MiniAgents, miniagent
from miniagents.ext.otel import OpenTelemetryObserver

pytestmark = pytest.mark.timeout(240)

PROJECT = "miniagents-e2e"
REPO_ROOT = Path(__file__).resolve().parents[1]


def _phoenix_executable() -> Path | None:
    candidate = Path(os.environ.get("MINIAGENTS_PHOENIX", REPO_ROOT / ".venv-phoenix" / "bin" / "phoenix"))
    return candidate if candidate.exists() else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    executable = _phoenix_executable()
    if executable is None:
        message = "Arize Phoenix is not installed (.venv-phoenix/bin/phoenix; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port, grpc_port = _free_port(), _free_port()
    working_dir = tmp_path_factory.mktemp("phoenix")
    environment = {
        **os.environ,
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(working_dir),
    }
    log = (working_dir / "phoenix.log").open("w")
    server = subprocess.Popen([str(executable), "serve"], env=environment, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _get_json(f"{base_url}/v1/projects")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Phoenix did not start: {(working_dir / 'phoenix.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@miniagent
async def research_agent(ctx: InteractionContext) -> None:
    for index in range(3):
        ctx.reply_out_of_order(web_search_agent.trigger(ctx.message_promises, search_query=f"query {index + 1}"))


@miniagent
async def web_search_agent(ctx: InteractionContext, search_query: str) -> None:
    for index in range(2):
        ctx.reply_out_of_order(page_scraper_agent.trigger(url=f"https://dummy.com/{search_query}/{index}"))


@miniagent
async def page_scraper_agent(ctx: InteractionContext, url: str) -> None:
    ctx.reply(f"{url} - DONE")


def test_a_run_exported_over_otlp_reads_back_from_phoenix_with_its_tree_and_tokens(
    phoenix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from miniagents.ext.llms import OFFLINE_ENV_VAR, OpenAIAgent
    from miniagents.ext.llms.offline import start_offline_llm_server

    for variable in ("OPENAI_API_KEY", "OPENAI_BASE_URL", OFFLINE_ENV_VAR):
        monkeypatch.delenv(variable, raising=False)
    provider = TracerProvider(resource=Resource.create({"openinference.project.name": PROJECT}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{phoenix}/v1/traces")))

    with start_offline_llm_server(token_delay=0) as server:
        client = server.openai_client()
        llm = OpenAIAgent.fork(non_freezable_kwargs={"async_client": client})

        async def main() -> None:
            await research_agent.trigger("Tell me about MiniAgents")
            await llm.trigger("Which river flows through Vienna?", model="gpt-4o-mini")
            await client.close()

        MiniAgents(observers=[OpenTelemetryObserver(provider)]).run(main())
    provider.shutdown()  # exports what is batched

    spans: list[dict] = []
    deadline = time.monotonic() + 60
    while len(spans) < 11 and time.monotonic() < deadline:  # Phoenix ingests asynchronously
        time.sleep(0.5)
        spans = _get_json(f"{phoenix}/v1/projects/{PROJECT}/spans?limit=100")["data"]

    assert len(spans) == 1 + 3 + 6 + 1
    by_id = {span["context"]["span_id"]: span for span in spans}
    (root,) = [span for span in spans if span["name"] == "invoke_agent research_agent"]
    searches = [span for span in spans if span["parent_id"] == root["context"]["span_id"]]
    assert sorted(span["name"] for span in searches) == ["invoke_agent web_search_agent"] * 3
    scrapes = [span for span in spans if span["name"] == "invoke_agent page_scraper_agent"]
    assert len(scrapes) == 6
    assert all(by_id[span["parent_id"]]["name"] == "invoke_agent web_search_agent" for span in scrapes)
    (chat,) = [span for span in spans if span["name"] == "chat gpt-4o-mini"]
    assert chat["parent_id"] is None
    assert chat["attributes"]["gen_ai.usage.input_tokens"] > 0
    assert chat["attributes"]["gen_ai.usage.output_tokens"] > 0
    assert chat["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
