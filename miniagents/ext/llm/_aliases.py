"""Deprecated module attributes that resolve to their new home and warn on every use.

The old packages (`miniagents.ext.llm.openai`, …) also have submodules named like the agents they export
(`…openai.openai_agent`). Importing such a submodule would normally overwrite the package attribute of the same name
with the module; the module class installed here keeps the attribute meaning the agent, whatever the import order.
"""

import sys
from importlib import import_module
from types import ModuleType
from typing import Any

from miniagents.promising._deprecation import warn_deprecated

__all__ = ["install_deprecated_aliases"]


class _DeprecatedAliasesModule(ModuleType):
    _deprecated_aliases: dict[str, str]

    def __getattr__(self, name: str) -> Any:
        target = self.__dict__.get("_deprecated_aliases", {}).get(name)
        if target is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        module_name, attribute = target.split(":")
        warn_deprecated(f"{self.__name__}.{name}", f"from {module_name} import {attribute}")
        return getattr(import_module(module_name), attribute)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and name in self.__dict__.get("_deprecated_aliases", {}):
            return  # the import system binding a submodule: the name keeps meaning the deprecated alias
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.__dict__.get("_deprecated_aliases", {})})


def install_deprecated_aliases(module_name: str, aliases: dict[str, str]) -> None:
    """Make `module_name.<old name>` return the object named by `"new.module:attribute"`, with a DeprecationWarning."""
    module = sys.modules[module_name]
    module.__class__ = _DeprecatedAliasesModule
    module.__dict__["_deprecated_aliases"] = dict(aliases)
