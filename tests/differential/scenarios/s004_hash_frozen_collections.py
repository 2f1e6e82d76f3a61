"""Hash keys of messages with lists, tuples and dicts (frozen)."""

from miniagents import Message

print(Message(items=[1, 2, [3, 4]], mapping={"b": 1, "a": {"c": [1]}}).hash_key)
print(Message(items=(1, 2, (3, 4)), mapping={"a": {"c": (1,)}, "b": 1}).hash_key)
print(Message(empty_list=[], empty_dict={}).hash_key)
