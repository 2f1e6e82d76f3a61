"""Token usage of LLM replies, the same shape for every provider, and its totals over calls and runs.

Every LLM reply message carries `token_usage = {"input_tokens", "output_tokens", "cached_tokens"}` next to the
provider's raw `usage`. `UsageTotals` (an observer) sums them per call — *including its sub-calls* — and per run:

    totals = UsageTotals()
    async with MiniAgents(observers=[totals]):
        await research_agent.trigger("...")
    totals.run_total  # {"input_tokens": …, "output_tokens": …, "cached_tokens": …, "llm_calls": …, "cost_usd": …}
    totals.for_call(call_id)  # the same for one call and everything it called

Time spent waiting for an LLM slot is public data too, for the views (the timeline draws it): when a concurrency or
requests-per-minute limit applies to a call (`max_concurrency=`, `requests_per_minute=`, `configure_llm_limits`), its
reply message has the field `queued_seconds` (`QUEUED_SECONDS_FIELD`): seconds the call waited for a slot, summed
over its requests (retries and tool rounds). It is already in the reply promise's `known_beforehand` — so on the
`ReplyMessageAppeared` event, as soon as the first token arrives — with the wait before that token, and on the
resolved message (the `ReplyMessageResolved` event, records, the store) with the total. Without a limit the field is
absent.
"""

import functools
from collections.abc import Mapping
from typing import Any

from miniagents.lifecycle import CallInitiated, ReplyMessageAppeared, ReplyMessageResolved
from miniagents.promising.ext.frozen import Frozen

__all__ = [
    "QUEUED_SECONDS_FIELD",
    "USAGE_KEYS",
    "UsageTotals",
    "check_token_prices",
    "normalized_usage",
    "priced_usage_usd",
    "usage_cost_usd",
]

USAGE_KEYS = ("input_tokens", "output_tokens", "cached_tokens")

QUEUED_SECONDS_FIELD = "queued_seconds"
"""The reply field: seconds an LLM call waited for a concurrency / rate-limit slot (see the module docstring)."""


def normalized_usage(raw_usage: Any) -> dict[str, int] | None:
    """`{"input_tokens", "output_tokens", "cached_tokens"}` from an OpenAI or Anthropic `usage` (None if absent).

    OpenAI counts cached tokens inside `prompt_tokens` (`prompt_tokens_details.cached_tokens`); Anthropic reports
    them apart (`cache_read_input_tokens`, `cache_creation_input_tokens`), so they are added to `input_tokens` here:
    `input_tokens` is always every token of the prompt.
    """
    usage = _plain(raw_usage)
    if not isinstance(usage, Mapping):
        return None
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        details = _plain(usage.get("prompt_tokens_details")) or {}
        return {
            "input_tokens": _int(usage.get("prompt_tokens")),
            "output_tokens": _int(usage.get("completion_tokens")),
            "cached_tokens": _int(details.get("cached_tokens") if isinstance(details, Mapping) else 0),
        }
    if "input_tokens" in usage or "output_tokens" in usage:
        cache_read = _int(usage.get("cache_read_input_tokens"))
        cache_creation = _int(usage.get("cache_creation_input_tokens"))
        return {
            "input_tokens": _int(usage.get("input_tokens")) + cache_read + cache_creation,
            "output_tokens": _int(usage.get("output_tokens")),
            "cached_tokens": cache_read,
        }
    return None


def usage_cost_usd(usage: Mapping[str, int], model: str, provider: str | None = None) -> float | None:
    """The price in US dollars of `usage` with `model`, from the `genai-prices` package (`pip install genai-prices`).

    None when the package is not installed or does not know the model (a local or offline model, say). Both are
    remembered, so an unknown model costs the search once per process, not once per reply.
    """
    genai_prices = _genai_prices()
    provider_id = provider if provider in ("openai", "anthropic") else None
    if genai_prices is None or (model, provider_id) in _unpriced_models:
        return None
    try:
        price = genai_prices.calc_price(
            genai_prices.Usage(
                input_tokens=usage.get("input_tokens", 0),
                cache_read_tokens=usage.get("cached_tokens", 0),
                output_tokens=usage.get("output_tokens", 0),
            ),
            model_ref=model,
            provider_id=provider_id,
        )
    except (LookupError, ValueError):
        _unpriced_models.add((model, provider_id))
        return None
    return float(price.total_price)


_unpriced_models: set[tuple[str, str | None]] = set()


@functools.cache
def _genai_prices() -> Any:
    """The `genai_prices` module, or None when it is not installed (looked for once)."""
    try:
        import genai_prices
    except ImportError:
        return None
    return genai_prices


TOKEN_PRICE_KEYS = ("input", "output", "cached_input")


def check_token_prices(prices: Any) -> dict[str, float] | None:
    """`usd_per_million_tokens` as given to an LLM agent, checked: `{"input": …, "output": …}` and optionally
    `"cached_input"` (cached prompt tokens; the `"input"` price when not given), US dollars per million tokens."""
    if prices is None:
        return None
    prices = _plain(prices)
    if (
        not isinstance(prices, Mapping)
        or not {"input", "output"} <= set(prices)
        or set(prices) - set(TOKEN_PRICE_KEYS)
    ):
        raise ValueError(
            "`usd_per_million_tokens` must be a mapping with the keys 'input' and 'output' (and optionally "
            f"'cached_input'): US dollars per million tokens, e.g. {{'input': 0.15, 'output': 0.6}}; got {prices!r}."
        )
    checked = {}
    for key, value in prices.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"`usd_per_million_tokens[{key!r}]` must be a number >= 0 (dollars), got {value!r}.")
        checked[key] = float(value)
    return checked


def priced_usage_usd(usage: Mapping[str, int], usd_per_million_tokens: Mapping[str, float]) -> float:
    """The price of `usage` at prices you give (`check_token_prices`): for models `genai-prices` does not know."""
    cached = usage.get("cached_tokens", 0)
    cached_price = usd_per_million_tokens.get("cached_input", usd_per_million_tokens["input"])
    return (
        (usage.get("input_tokens", 0) - cached) * usd_per_million_tokens["input"]
        + cached * cached_price
        + usage.get("output_tokens", 0) * usd_per_million_tokens["output"]
    ) / 1_000_000


class UsageTotals:
    """An observer summing `token_usage` (and `cost_usd`) of LLM replies per call (with its sub-calls) and per run."""

    def __init__(self) -> None:
        self._parents: dict[int, int | None] = {}
        self._own: dict[int, dict[str, int]] = {}
        self._llm_calls: set[int] = set()
        self.run_total: dict[str, Any] = _zero()

    def on_call_event(self, event: Any) -> None:
        if isinstance(event, CallInitiated):
            self._parents[event.call_id] = event.parent_call_id
            if getattr(getattr(event.agent, "func", None), "llm_provider", None) is not None:
                self._llm_calls.add(event.call_id)
        elif isinstance(event, (ReplyMessageResolved, ReplyMessageAppeared)) and event.call_id in self._llm_calls:
            # only in the LLM call itself: callers that pass its reply on reply with the same message
            usage = _plain(event.message.get("token_usage")) if event.message is not None else None
            if isinstance(usage, Mapping):
                self._add(event.call_id, usage, event.message.get("cost_usd"))

    async def aflush(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def for_call(self, call_id: int) -> dict[str, Any]:
        """Usage of one call's own LLM replies plus those of every call below it."""
        total = _zero()
        for descendant, own in self._own.items():
            if self._is_within(descendant, call_id):
                for key, value in own.items():
                    total[key] += value
        return total

    def _add(self, call_id: int, usage: Mapping[str, Any], cost: Any) -> None:
        own = self._own.setdefault(call_id, _zero())
        for key in USAGE_KEYS:
            own[key] += _int(usage.get(key))
            self.run_total[key] += _int(usage.get(key))
        own["llm_calls"] += 1
        self.run_total["llm_calls"] += 1
        if isinstance(cost, float):
            own["cost_usd"] += cost
            self.run_total["cost_usd"] += cost

    def _is_within(self, call_id: int | None, ancestor: int) -> bool:
        seen = 0
        while call_id is not None and seen <= len(self._parents):
            if call_id == ancestor:
                return True
            call_id = self._parents.get(call_id)
            seen += 1
        return False


def _zero() -> dict[str, Any]:
    return {**dict.fromkeys(USAGE_KEYS, 0), "llm_calls": 0, "cost_usd": 0.0}


def _plain(value: Any) -> Any:
    if isinstance(value, Frozen):
        return value.frozen_fields_and_values()
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
