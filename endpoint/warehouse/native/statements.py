"""Just enough SQL lexing to route a native-protocol query.

`parse_insert` recognises `INSERT INTO [TABLE] t [(cols)] [SETTINGS ...] VALUES|FORMAT f` with no
data after it: the client will send the rows as blocks. INSERT ... SELECT and INSERT with inline
VALUES run as ordinary statements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+|--[^\n]*(?:\n|$)|\#[^\n]*(?:\n|$)|/\*.*?\*/)
  | (?P<quoted>`(?:[^`\\]|\\.|``)*`|"(?:[^"\\]|\\.|"")*")
  | (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<number>\d[\w.]*)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_RESULT_RE = re.compile(
    r"^(?:SELECT|WITH|SHOW|DESC|DESCRIBE|EXPLAIN|EXISTS|CHECK|VALUES|FROM|TABLE)$", re.IGNORECASE
)


@dataclass
class Token:
    kind: str
    text: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text

    @property
    def name(self) -> str:
        """The identifier this token spells (quotes removed)."""
        if self.kind == "quoted":
            quote = self.text[0]
            inner = self.text[1:-1].replace(quote * 2, quote)
            return re.sub(r"\\(.)", r"\1", inner)
        return self.text


def tokens(sql: str) -> list[Token]:
    """Significant tokens of `sql` (whitespace and comments dropped)."""
    out = []
    for match in _TOKEN_RE.finditer(sql):
        kind = match.lastgroup or "punct"
        if kind != "ws":
            out.append(Token(kind, match.group(), match.start(), match.end()))
    return out


def first_keyword(sql: str) -> str:
    """The first word of the statement, upper case ('' if none)."""
    for token in tokens(sql[:4096]):
        if token.text == "(":
            return "("
        return token.upper if token.kind == "word" else ""
    return ""


def returns_rows(sql: str) -> bool:
    """Whether the statement produces a result set (SELECT, SHOW, DESCRIBE, ...)."""
    word = first_keyword(sql)
    return word == "(" or bool(_RESULT_RE.match(word))


def quote_ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


@dataclass
class InsertTarget:
    """An INSERT that expects its rows from the client."""

    table: str  # SQL text of the target: `db.t`, or `FUNCTION f(...)`
    columns: list[str] | None  # explicit column list, unquoted
    settings: str  # SQL text of a SETTINGS clause ('' if none)

    def describe_sql(self) -> str:
        table = self.table
        if table.upper().startswith("FUNCTION"):
            table = table[len("FUNCTION") :].strip()
        return f"DESCRIBE TABLE {table}"

    def insert_sql(self, columns: list[str]) -> str:
        """The statement chDB runs (data follows as FORMAT Native)."""
        names = ", ".join(quote_ident(c) for c in columns)
        sql = f"INSERT INTO {self.table} ({names})"
        return f"{sql} {self.settings}" if self.settings else sql


def _skip_parens(toks: list[Token], i: int) -> int:
    """Index after the parenthesised group starting at toks[i] == '('."""
    depth = 0
    while i < len(toks):
        if toks[i].text == "(":
            depth += 1
        elif toks[i].text == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced parentheses")


def parse_insert(sql: str) -> InsertTarget | None:
    """The target of an INSERT whose data the client sends as blocks, else None."""
    toks = tokens(sql)
    if len(toks) < 3 or toks[0].upper != "INSERT" or toks[1].upper != "INTO":
        return None
    i = 2
    try:
        if toks[i].upper == "TABLE":
            i += 1
        start = i
        if toks[i].upper == "FUNCTION":
            i += 2
            if i >= len(toks) or toks[i].text != "(":
                return None
            i = _skip_parens(toks, i)
        else:
            i += 1
            while i + 1 < len(toks) and toks[i].text == ".":
                i += 2
        table = sql[toks[start].start : toks[i - 1].end]
        columns = None
        if i < len(toks) and toks[i].text == "(":
            end = _skip_parens(toks, i)
            columns = [t.name for t in toks[i + 1 : end - 1] if t.kind in ("word", "quoted")]
            i = end
        settings = ""
        if i < len(toks) and toks[i].upper == "SETTINGS":
            j = i + 1
            while j < len(toks) and toks[j].upper not in ("VALUES", "FORMAT", "SELECT", "WITH"):
                j += 1
            settings = sql[toks[i].start : toks[j - 1].end] if j > i + 1 else ""
            i = j
    except (IndexError, ValueError):
        return None
    if i >= len(toks):
        return None
    keyword = toks[i].upper
    if keyword == "VALUES":
        rest = toks[i + 1 :]
    elif keyword == "FORMAT" and i + 1 < len(toks):
        rest = toks[i + 2 :]
    else:
        return None  # INSERT ... SELECT, or something we leave to the engine
    if any(t.text != ";" for t in rest):
        return None  # inline data
    return InsertTarget(table=table, columns=columns, settings=settings)
