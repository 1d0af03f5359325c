"""One file's nodes as nested blocks, with Apache's rules for section tags.

Apache requires every section to close in the file that opened it, with the
same name, even inside a block it skips ("Expected </Location> but saw
</IfModule>").  Building the nesting first lets the reader decide each block
as a whole, the way Apache does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from ..language.ast import Directive, ParsedFile, SectionOpen


@dataclass
class Block:
    """A section: its opening tag and what stands between it and its closing tag."""

    open: SectionOpen
    items: list[Directive | Block] = field(default_factory=list)


Item = Directive | Block


def build_blocks(parsed: ParsedFile) -> list[Item]:
    """Nest the nodes of one file; unbalanced tags are errors at their file:line."""
    top: list[Item] = []
    stack: list[Block] = []
    for node in parsed.nodes:
        here = stack[-1].items if stack else top
        if isinstance(node, SectionOpen):
            block = Block(node)
            here.append(block)
            stack.append(block)
        elif isinstance(node, Directive):
            here.append(node)
        elif not stack:
            raise ConfigError(f"</{node.name}> without matching <{node.name}> section",
                              node.location)
        elif stack[-1].open.key != node.key:
            opened = stack[-1].open
            raise ConfigError(f"Expected </{opened.name}> but saw </{node.name}> "
                              f"(<{opened.name}> opens at line {opened.location.line})",
                              node.location)
        else:
            stack.pop()
    if stack:
        opened = stack[-1].open
        raise ConfigError(f"<{opened.name}> was not closed", opened.location)
    return top
