"""Hash keys of Frozen values and subclasses."""

from miniagents.promising.ext.frozen import Frozen


class Point(Frozen):
    x: int
    y: int


print(Frozen().hash_key)
print(Frozen(a=1).hash_key)
print(Point(x=1, y=2).hash_key)
print(Frozen(point=Point(x=1, y=2)).hash_key)
