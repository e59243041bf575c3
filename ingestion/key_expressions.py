"""Which SQL a table YAML may put in its ClickHouse keys (`clickhouse.partition_by`).

A key expression runs inside the server on every insert and merge, so it must be a
deterministic function of the row's own columns: parsed with sqlglot's ClickHouse dialect,
only the functions listed here, no table functions, sub-queries or other tables.
"""

from __future__ import annotations

import itertools

import sqlglot
from sqlglot.tokens import TokenType

# deterministic functions useful in partition / sort keys (ClickHouse names, case-insensitive)
ALLOWED_FUNCTIONS = frozenset(
    name.lower()
    for name in [
        "toYYYYMM",
        "toYYYYMMDD",
        "toYYYYMMDDhhmmss",
        "toYear",
        "toQuarter",
        "toMonth",
        "toDayOfMonth",
        "toDayOfWeek",
        "toDayOfYear",
        "toHour",
        "toISOYear",
        "toISOWeek",
        "toWeek",
        "toYearWeek",
        "toRelativeMonthNum",
        "toRelativeWeekNum",
        "toRelativeDayNum",
        "toStartOfYear",
        "toStartOfISOYear",
        "toStartOfQuarter",
        "toStartOfMonth",
        "toStartOfWeek",
        "toMonday",
        "toStartOfDay",
        "toStartOfHour",
        "toStartOfInterval",
        "toDate",
        "toDate32",
        "toDateTime",
        "toDateTime64",
        "toString",
        "toInt8",
        "toInt16",
        "toInt32",
        "toInt64",
        "toUInt8",
        "toUInt16",
        "toUInt32",
        "toUInt64",
        "intDiv",
        "intDivOrZero",
        "modulo",
        "moduloOrZero",
        "plus",
        "minus",
        "multiply",
        "abs",
        "round",
        "floor",
        "ceil",
        "cityHash64",
        "sipHash64",
        "xxHash32",
        "xxHash64",
        "murmurHash3_32",
        "murmurHash3_64",
        "farmHash64",
        "lower",
        "upper",
        "substring",
        "left",
        "right",
        "length",
        "tuple",
        "if",
        "multiIf",
        "cast",
        "coalesce",
        "assumeNotNull",
    ]
)
# named in errors: they read outside the row (files, URLs, other servers or tables)
TABLE_FUNCTIONS = frozenset(
    [
        "file",
        "url",
        "remote",
        "remotesecure",
        "s3",
        "s3cluster",
        "gcs",
        "azureblobstorage",
        "hdfs",
        "mysql",
        "postgresql",
        "sqlite",
        "mongodb",
        "redis",
        "jdbc",
        "odbc",
        "cluster",
        "clusterallreplicas",
        "merge",
        "numbers",
        "zeros",
        "generaterandom",
        "input",
        "executable",
        "dictionary",
        "dictget",
        "dictgetordefault",
        "dictgetornull",
        "dicthas",
        "joinget",
        "view",
        "values",
        "format",
    ]
)
NON_DETERMINISTIC = frozenset(
    [
        "rand",
        "rand32",
        "rand64",
        "randconstant",
        "randuniform",
        "randnormal",
        "randomstring",
        "randomprintableascii",
        "randomfixedstring",
        "canonicalrand",
        "now",
        "now64",
        "nowinblock",
        "today",
        "yesterday",
        "currentdatabase",
        "currentuser",
        "hostname",
        "fqdn",
        "uptime",
        "version",
        "generateuuidv4",
        "generateuuidv7",
        "generatesnowflakeid",
        "rownumberinblock",
        "rownumberinallblocks",
        "blocknumber",
        "runningdifference",
        "runningaccumulate",
        "neighbor",
        "timezone",
        "servertimezone",
    ]
)


def _function_names(expression: str) -> list[str]:
    """Every name called like a function (`name(`), as written."""
    tokens = sqlglot.tokenize(expression, dialect="clickhouse")
    return [
        token.text
        for token, following in itertools.pairwise(tokens)
        if following.token_type == TokenType.L_PAREN and token.token_type != TokenType.L_PAREN
    ]


def check_key_expression(expression: str, columns: set[str] | None = None) -> str | None:
    """Why `expression` is not a deterministic expression over `columns` (None when it is).

    `columns` None skips the column check (the caller reports unknown columns itself)."""
    try:
        parsed = sqlglot.parse(expression, dialect="clickhouse")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as exc:
        return f"not a valid SQL expression: {str(exc).splitlines()[0]}"
    if len(parsed) != 1 or parsed[0] is None:
        return "must be a single SQL expression"
    tree = parsed[0]
    if any(tree.find_all(sqlglot.exp.Query)):  # find_all includes the root
        return "sub-queries are not allowed"
    for name in _function_names(expression):
        lowered = name.lower()
        if lowered in TABLE_FUNCTIONS:
            return f"{name}() reads outside the row: table functions are not allowed"
        if lowered in NON_DETERMINISTIC:
            return f"{name}() is not deterministic: a key must depend on the row only"
        if lowered not in ALLOWED_FUNCTIONS:
            return (
                f"function {name}() is not allowed in a key expression; allowed: "
                "date parts (toYYYYMM, toStartOfMonth...), conversions (toDate, toString...), "
                "arithmetic (intDiv, modulo...), hashes (cityHash64...), see "
                "ingestion/key_expressions.py"
            )
    if any(tree.find_all(sqlglot.exp.Star)):
        return "'*' is not allowed: name the columns"
    if any(tree.find_all(sqlglot.exp.Placeholder, sqlglot.exp.Parameter)):
        return "query parameters are not allowed"
    for column in tree.find_all(sqlglot.exp.Column):
        if column.table:
            return f"{column.sql(dialect='clickhouse')} refers to another table: use own columns"
        if columns is not None and column.name not in columns:
            return f"column {column.name!r} is not a declared column"
    return None


def expression_columns(expression: str | None) -> set[str]:
    """Column names an SQL expression refers to (empty for None)."""
    if not expression:
        return set()
    return {
        c.name
        for c in sqlglot.parse_one(expression, dialect="clickhouse").find_all(sqlglot.exp.Column)
    }
