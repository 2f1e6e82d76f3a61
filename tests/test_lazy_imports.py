"""Lazy package exports: importing a package loads only what is used, yet every exported name works as before."""

import ast
import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LAZY_PACKAGES = ["miniagents", "miniagents.promising", "miniagents.ext.llms", "miniagents.ext.persistence"]


def _modules_after(statement: str) -> list[str]:
    """The modules a fresh interpreter has loaded after running `statement`."""
    script = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_importing_the_promising_layer_loads_neither_pydantic_nor_the_agent_layer() -> None:
    loaded = _modules_after("import miniagents.promising")

    assert "pydantic" not in loaded
    assert "miniagents.agents" not in loaded
    assert [
        name for name in loaded if name.startswith("miniagents") and not name.startswith("miniagents.promising")
    ] == ["miniagents"]


def test_the_promising_primitives_work_without_pydantic() -> None:
    loaded = _modules_after(
        textwrap.dedent(
            """
            import asyncio
            from miniagents.promising import PromisingContext, StreamedPromise

            async def pieces(_):
                yield 1
                yield 2

            async def main():
                async with PromisingContext():
                    assert await StreamedPromise(pieces) == (1, 2)

            asyncio.run(main())
            """
        )
    )

    assert "pydantic" not in loaded
    assert "miniagents.messages" not in loaded


def test_importing_miniagents_is_cheap_until_a_name_is_used() -> None:
    assert not {"pydantic", "miniagents.agents", "miniagents.runtime"} & set(_modules_after("import miniagents"))
    assert "miniagents.runtime" in _modules_after("from miniagents import MiniAgents")
    assert "miniagents.agents" not in _modules_after("import miniagents.ext.llms.offline")


@pytest.mark.parametrize("package_name", LAZY_PACKAGES)
def test_every_exported_name_resolves_and_is_listed(package_name: str) -> None:
    package = importlib.import_module(package_name)

    for name in package.__all__:
        assert getattr(package, name) is not None
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match=f"module '{package_name}' has no attribute 'NoSuchName'"):
        _ = package.NoSuchName


@pytest.mark.parametrize("package_name", LAZY_PACKAGES)
def test_type_checkers_see_the_same_names_from_the_same_places(package_name: str) -> None:
    """The `if TYPE_CHECKING:` imports (what IDEs read) match `__all__` and what the package returns at run time."""
    package = importlib.import_module(package_name)
    tree = ast.parse(Path(package.__file__).read_text(encoding="utf-8"))
    type_checking_block = next(
        node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    statically_imported = {
        alias.name: statement.module
        for statement in type_checking_block.body
        if isinstance(statement, ast.ImportFrom)
        for alias in statement.names
    }

    assert set(statically_imported) == set(package.__all__) - {"__version__"}
    for name, module_name in statically_imported.items():
        assert getattr(package, name) is getattr(importlib.import_module(module_name), name), name


def test_star_import_still_gives_every_name() -> None:
    namespace: dict[str, object] = {}
    exec("from miniagents import *", namespace)

    import miniagents

    assert set(miniagents.__all__) <= set(namespace)
