"""Just enough SQL lexing for the endpoint: find `INSERT … FORMAT X` / `INSERT … VALUES` heads
(where the data starts) and a trailing `FORMAT X` clause, skipping comments and quoted text."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = re.compile(r"\s+")
_HEREDOC = re.compile(r"\$[A-Za-z0-9_]*\$")  # $tag$ … $tag$ string literals
# a quoted string or identifier: backslash escapes, doubled quotes; unterminated = to the end
_QUOTED = {q: re.compile(rf"{q}(?:[^{q}\\]+|\\.|{q}{q})*(?:{q}|\\?$)", re.DOTALL) for q in "'\"`"}


@dataclass(frozen=True)
class InsertHead:
    """`statement` is the INSERT without FORMAT clause; data begins at `data_offset`."""

    statement: str
    fmt: str
    data_offset: int


def _tokens(text: str):
    """Yield (kind, value, start, end) for words and single punctuation at any depth; skips
    whitespace and comments; quoted strings/identifiers and heredocs are kind "quoted"."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            m = _SPACE.match(text, i)
            i = m.end()  # type: ignore[union-attr]
        elif text.startswith("--", i) or c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "$" and _HEREDOC.match(text, i):
            tag = _HEREDOC.match(text, i).group(0)  # type: ignore[union-attr]
            close = text.find(tag, i + len(tag))
            end = n if close < 0 else close + len(tag)
            yield "quoted", text[i:end], i, end
            i = end
        elif c in _QUOTED:
            end = _QUOTED[c].match(text, i).end()  # type: ignore[union-attr]
            yield "quoted", text[i:end], i, end
            i = end
        else:
            m = _WORD.match(text, i)
            if m:
                yield "word", m.group(0), i, m.end()
                i = m.end()
            else:
                yield "punct", c, i, i + 1
                i += 1


def find_insert(text: str, complete: bool = True) -> InsertHead | None:
    """If `text` starts with `INSERT INTO … FORMAT X` or `INSERT INTO … VALUES`, say where its
    data starts. INSERT … SELECT and anything else return None (run as a plain query).
    With complete=False `text` may be a truncated prefix: a head ending exactly at the end of
    the text (format name possibly cut) is not reported."""
    tokens = _tokens(text)
    first = next(tokens, None)
    if first is None or first[0] != "word" or first[1].upper() != "INSERT":
        return None
    depth = 0
    start = first[2]
    for kind, value, begin, end in tokens:
        if kind == "punct":
            if value == "(":
                depth += 1
            elif value == ")":
                depth -= 1
            elif value == ";" and depth == 0:
                return None
            continue
        if kind != "word" or depth != 0:
            continue
        upper = value.upper()
        if upper in ("SELECT", "WITH"):
            return None
        if upper == "VALUES":
            if not complete and end >= len(text):
                return None
            return InsertHead(text[start:begin].rstrip(), "Values", end)
        if upper == "FORMAT":
            name = next(tokens, None)
            if name is None or name[0] != "word":
                return None
            if not complete and name[3] >= len(text):
                return None
            return InsertHead(text[start:begin].rstrip(), name[1], _data_start(text, name[3]))
    return None


def _data_start(text: str, pos: int) -> int:
    """ClickHouse: data starts after the first newline following FORMAT X, or after the
    whitespace there if there is no newline."""
    n = len(text)
    while pos < n and text[pos] in " \t\r\f\v":
        pos += 1
    if pos < n and text[pos] == "\n":
        pos += 1
    return pos


def second_statement(text: str) -> int | None:
    """Where a second statement starts (the position of the `;` before it), or None when the
    text is one statement (trailing semicolons and comments allowed). The data after an
    `INSERT … FORMAT X` / `VALUES` head is not SQL and is not looked at."""
    if find_insert(text) is not None:
        return None
    semicolon = None
    for kind, value, begin, _ in _tokens(text):
        if kind == "punct" and value == ";":
            if semicolon is None:
                semicolon = begin
        elif semicolon is not None:
            return semicolon
    return None


def _format_clause(text: str) -> tuple[int, int, str] | None:
    """(start, end, format name) of the last top-level `FORMAT X` clause, if any."""
    found = None
    depth = 0
    tokens = _tokens(text)
    for kind, value, begin, _ in tokens:
        if kind == "punct":
            depth += value == "("
            depth -= value == ")"
        elif kind == "word" and depth == 0 and value.upper() == "FORMAT":
            name = next(tokens, None)
            if name is not None and name[0] == "word":
                found = (begin, name[3], name[1])
    return found


def output_format(text: str) -> str | None:
    """The format named by a top-level `FORMAT X` clause of a query, if any."""
    clause = _format_clause(text)
    return clause[2] if clause else None


def without_format(text: str) -> str:
    """The query without its top-level `FORMAT X` clause (and trailing semicolons)."""
    clause = _format_clause(text)
    if clause is not None:
        text = text[: clause[0]] + text[clause[1] :]
    return text.strip().rstrip(";").strip()


def is_insert_head(prefix: str) -> bool:
    """Whether a (possibly truncated) statement text starts with INSERT."""
    first = next(_tokens(prefix), None)
    return first is not None and first[0] == "word" and first[1].upper() == "INSERT"


def _unquote(token: tuple[str, str, int, int]) -> str:
    kind, value = token[0], token[1]
    if kind == "quoted" and value[:1] in '`"':
        return value[1:-1].replace(value[0] * 2, value[0]).replace("\\" + value[0], value[0])
    return value


def insert_target(statement: str) -> tuple[str | None, str] | None:
    """(database or None, table) of `INSERT INTO [TABLE] [db.]t …`; None for table functions
    or anything unexpected."""
    tokens = list(_tokens(statement))
    words = [t[1].upper() if t[0] == "word" else t[1] for t in tokens]
    if len(tokens) < 3 or words[0] != "INSERT" or words[1] != "INTO":
        return None
    pos = 2
    if words[pos] == "TABLE":
        pos += 1
    if pos >= len(tokens) or words[pos] == "FUNCTION" or tokens[pos][0] == "punct":
        return None
    first = _unquote(tokens[pos])
    if pos + 2 < len(tokens) and tokens[pos + 1][1] == "." and tokens[pos + 2][0] != "punct":
        return first, _unquote(tokens[pos + 2])
    return None, first


def split_settings(statement: str) -> tuple[str, str]:
    """Split `INSERT … SETTINGS a = 1, …` into the part before the top-level SETTINGS keyword
    and the SETTINGS clause ("" when there is none)."""
    depth = 0
    for kind, value, begin, _ in _tokens(statement):
        if kind == "punct":
            depth += value == "("
            depth -= value == ")"
        elif kind == "word" and depth == 0 and value.upper() == "SETTINGS":
            return statement[:begin].rstrip(), statement[begin:].strip()
    return statement.rstrip(), ""
