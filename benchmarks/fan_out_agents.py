"""The fan-out workload's two agents (this package's API), for the companion benchmarks that attach things to it.

One root agent triggers `agents` leaf agents, each replying `messages_per_agent` short texts; the root replies
them all.
`fan_out` in `workloads.py` runs these agents too, under this package and under the reference (its API is the same).
"""

from miniagents import InteractionContext, miniagent

__all__ = ["fan_out_leaf", "fan_out_root"]


@miniagent
async def fan_out_root(ctx: InteractionContext, agents: int, messages_per_agent: int) -> None:
    for agent_index in range(agents):
        ctx.reply(fan_out_leaf.trigger(agent_index=agent_index, messages_per_agent=messages_per_agent))


@miniagent
async def fan_out_leaf(ctx: InteractionContext, agent_index: int, messages_per_agent: int) -> None:
    for message_index in range(messages_per_agent):
        ctx.reply(f"{agent_index}.{message_index}")
