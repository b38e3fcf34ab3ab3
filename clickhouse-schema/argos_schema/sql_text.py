"""SQL text handling for the migrator: statement splitting and engine rewriting that respect quoting.

A ``;`` or an engine name inside a comment, a string or a quoted identifier is text, not SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_ENGINE = re.compile(r"(ENGINE\s*=\s*)(?!Replicated)(\w*MergeTree)\b")


def _segments(sql: str) -> Iterator[tuple[bool, str]]:
    """``(is_code, text)`` pieces of ``sql``: comments, strings and quoted identifiers are not code."""
    i, start, n = 0, 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
        elif c in "'\"`":
            end = i + 1
            while end < n and sql[end] != c:
                end += 2 if sql[end] == "\\" else 1
            end = min(n, end + 1)  # a doubled quote ('') is two adjacent literals: same text, same split
        else:
            i += 1
            continue
        if start < i:
            yield True, sql[start:i]
        yield False, sql[i:end]
        i = start = end
    if start < n:
        yield True, sql[start:]


def split_statements(sql: str) -> list[str]:
    """Statements of a script, cut only on a ``;`` that is code; empty and comment-only pieces dropped."""
    statements, current, has_code = [], [], False
    for is_code, text in _segments(sql):
        if not is_code:
            current.append(text)
            continue
        parts = text.split(";")
        for k, part in enumerate(parts):
            current.append(part)
            has_code = has_code or bool(part.strip())
            if k < len(parts) - 1:
                if has_code:
                    statements.append("".join(current).strip())
                current, has_code = [], False
    if has_code:
        statements.append("".join(current).strip())
    return statements


def replicate_engines(sql: str) -> str:
    """``ENGINE = <X>MergeTree`` -> ``ENGINE = Replicated<X>MergeTree`` in code only, never twice."""
    return "".join(_ENGINE.sub(r"\1Replicated\2", text) if is_code else text for is_code, text in _segments(sql))


def normalized(sql: str) -> str:
    """The text a checksum is taken of: line endings and a byte-order mark do not change a migration."""
    return sql.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
