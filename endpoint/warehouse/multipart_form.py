"""`multipart/form-data` HTTP requests (clickhouse-connect's external data and large parameter
sets): text fields are request parameters (`query`, `param_<name>`, settings); file parts are
external tables, declared by `<name>_structure` or `<name>_types` and `<name>_format`.

Parsed with python-multipart as the body arrives; file parts are spooled (memory, then a file in
the spool directory) until the query runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart import FormParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from warehouse.engine import ClickHouseError
from warehouse.external import DEFAULT_FORMAT, ExternalTable
from warehouse.native.blocks import split_args

READ_SIZE = 1024 * 1024
MAX_MEMORY_PART = 4 * 1024 * 1024  # a larger file part is spooled to disk


class MalformedFormError(Exception):
    """The body is not the multipart/form-data its Content-Type says."""


def is_form(content_type: str) -> bool:
    return content_type.lower().startswith("multipart/form-data")


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[Any] = field(default_factory=list)  # python_multipart File objects

    def tables(self, params: Mapping[str, str]) -> list[ExternalTable]:
        """The file parts as external tables, declared by the request's parameters."""
        return [_table(f, params) for f in self.files]

    def close(self) -> None:
        for part in self.files:
            with contextlib.suppress(OSError):
                part.close()


def read(content_type: str, body: Iterator[bytes], spool_dir: Path) -> Form:
    """Read the whole body into a `Form` (close it when the request is done)."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise MalformedFormError("multipart/form-data without a boundary")
    form = Form()

    def on_field(part: Any) -> None:
        name = (part.field_name or b"").decode("utf-8", "surrogateescape")
        form.fields[name] = (part.value or b"").decode("utf-8", "surrogateescape")

    config = {"UPLOAD_DIR": str(spool_dir), "MAX_MEMORY_FILE_SIZE": MAX_MEMORY_PART}
    parser = FormParser(
        "multipart/form-data", on_field, form.files.append, boundary=boundary, config=config
    )
    try:
        for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        form.close()
        raise MalformedFormError(str(exc)) from None
    except BaseException:
        form.close()
        raise
    return form


def _table(part: Any, params: Mapping[str, str]) -> ExternalTable:
    name = (part.field_name or b"").decode("utf-8", "surrogateescape")
    structure = params.get(f"{name}_structure")
    types = params.get(f"{name}_types")
    if not structure and not types:
        raise ClickHouseError.make(
            36,
            "BAD_ARGUMENTS",
            f"Neither structure nor types have not been provided for external table {name}. "
            f"Use fields {name}_structure or {name}_types to do so.",
        )
    columns = structure or columns_from_types(types or "")
    fmt = params.get(f"{name}_format") or DEFAULT_FORMAT
    return ExternalTable(name, columns, fmt, _chunks(part), part.size > 0)


def columns_from_types(types: str) -> str:
    """`<name>_types` ("UInt8,String") as a column list: the server names them _1, _2, …"""
    return ", ".join(f"_{i} {t}" for i, t in enumerate(split_args(types), start=1))


def _chunks(part: Any) -> Iterator[bytes]:
    fileobj = part.file_object
    fileobj.seek(0)
    while chunk := fileobj.read(READ_SIZE):
        yield chunk
