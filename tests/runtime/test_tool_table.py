"""The runtime's tool table is built from the groups the tool modules declare, by name."""

from __future__ import annotations

import pytest

from mcos.runtime import tools
from mcos.runtime.mail_tools import MAIL_TOOLS
from mcos.runtime.shell import SHELL_TOOLS


def test_every_declared_tool_is_in_the_table_once() -> None:
    for group in (tools.WORK_TOOLS, SHELL_TOOLS, MAIL_TOOLS):
        for tool in group:
            assert tools.TOOLS[tool.name] is tool, f"{tool.name} is offered from its group"


def test_a_name_declared_twice_stops_the_table_instead_of_hiding_a_tool() -> None:
    clash = (*tools.WORK_TOOLS[:1], *SHELL_TOOLS)
    with pytest.raises(ValueError, match=repr(SHELL_TOOLS[0].name)):
        tools.tools_by_name(clash, SHELL_TOOLS[:1])
