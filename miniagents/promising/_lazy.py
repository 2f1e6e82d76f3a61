"""Lazy package exports (PEP 562): a package names what it exports, each name's module is imported on first use.

`import miniagents.promising` must not pay for pydantic and the agent layer, yet `from miniagents import MiniAgents`
and `miniagents.MiniAgents` must keep working. So a package `__init__` lists where each exported name lives and
installs the module-level `__getattr__` / `__dir__` this helper returns; the first access imports the module and
caches the value in the package's namespace, so later accesses cost nothing. Type checkers and IDEs do not run
`__getattr__`: the package also imports the same names under `if TYPE_CHECKING:` for them.
"""

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package_globals: dict[str, Any], names_by_module: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of a package whose exports are imported from their modules on first use.

    `names_by_module` maps a module's full name to the names the package re-exports from it.
    """
    package_name = package_globals["__name__"]
    module_of = {name: module_name for module_name, names in names_by_module.items() for name in names}

    def __getattr__(name: str) -> Any:
        module_name = module_of.get(name)
        if module_name is None:
            raise AttributeError(f"module {package_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        package_globals[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*package_globals, *module_of})

    return __getattr__, __dir__
