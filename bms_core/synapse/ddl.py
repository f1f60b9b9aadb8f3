"""Apply the Synapse DDL in ``sql/`` batch by batch, to Synapse or (adapted) to SQLite.

The scripts are T-SQL with ``GO`` batch separators, the form sqlcmd and SSMS run. ODBC has no
notion of ``GO``, so :func:`split_batches` cuts the script and :func:`apply_scripts` executes
one batch at a time, stopping at the first failure with an error that names the file, the line
the batch starts on, its first statement line and the driver's message.

Dialect ``synapse`` sends the batches unchanged. Dialect ``sqlite`` exists so the same files
can be checked through a real ODBC driver locally and can create the local warehouse; it is an
explicit, lossy adaptation done by :func:`sqlite_statements` (sqlglot, imported lazily):

* schema-qualified names ``bms.x`` lose their schema and become ``x`` (SQLite has no schemas,
  and an attached database's views cannot name a schema);
* ``IF OBJECT_ID(...) IS NULL CREATE TABLE`` becomes ``CREATE TABLE IF NOT EXISTS`` without the
  ``WITH (DISTRIBUTION ..., HEAP)`` options; ``IF OBJECT_ID(...) IS NOT NULL DROP VIEW`` becomes
  ``DROP VIEW IF EXISTS``; types map to SQLite affinities (NVARCHAR -> TEXT, DECIMAL -> REAL,
  DATETIME2 -> TIMESTAMP);
* ``ALTER TABLE t ADD CONSTRAINT pk PRIMARY KEY NONCLUSTERED (cols) NOT ENFORCED`` (guarded by
  ``sys.key_constraints``) becomes ``CREATE UNIQUE INDEX IF NOT EXISTS pk ON t (cols)``: SQLite
  cannot add a key to a table, and an enforced unique index makes a load that would break the
  key fail locally instead of passing silently;
* batches with no SQLite meaning (``CREATE SCHEMA``, ``CREATE USER``, ``GRANT``) and views using
  functions SQLite lacks (``PERCENTILE_CONT``) are skipped, each with the reason recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from bms_core.synapse.odbc import connect

Dialect = Literal["synapse", "sqlite"]
DIALECTS: Final[tuple[str, ...]] = ("synapse", "sqlite")
SQL_DIR: Final = Path(__file__).resolve().parents[2] / "sql"
CREATE_TABLES_SCRIPT: Final = SQL_DIR / "synapse_create_table.sql"
ASA_USER_SCRIPT: Final = SQL_DIR / "synapse_asa_user.sql"
LOAD_CLEAN_SCRIPT: Final = SQL_DIR / "synapse_load_clean.sql"

_GO: Final = re.compile(r"^[ \t]*GO[ \t]*(?:--.*)?$", re.IGNORECASE | re.MULTILINE)
_COMMENT_LINE: Final = re.compile(r"^[ \t]*--.*$", re.MULTILINE)
_GUARD: Final = re.compile(
    r"^\s*IF\s+OBJECT_ID\(\s*N?'(?P<name>[^']+)'\s*,\s*N?'(?P<kind>[UV])'\s*\)\s+"
    r"IS\s+(?P<not>NOT\s+)?NULL\s+(?P<body>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_NOT_FOR_SQLITE: Final = (
    (re.compile(r"\bsys\.schemas\b|\bCREATE\s+SCHEMA\b", re.IGNORECASE), "schemas"),
    (re.compile(r"^\s*(IF\b.*)?\bCREATE\s+USER\b", re.IGNORECASE | re.DOTALL), "users"),
    (re.compile(r"^\s*GRANT\b", re.IGNORECASE), "permissions"),
)
_PRIMARY_KEY: Final = re.compile(
    r"\bALTER\s+TABLE\s+(?P<table>[\w.\[\]]+)\s+ADD\s+CONSTRAINT\s+(?P<name>\w+)\s+"
    r"PRIMARY\s+KEY\s+NONCLUSTERED\s*\((?P<columns>[\w\s,]+)\)\s*NOT\s+ENFORCED\s*;?\s*$",
    re.IGNORECASE,
)
_SQLITE_LACKS: Final = ("PERCENTILE_CONT", "PERCENTILE_DISC")


class SqlApplyError(RuntimeError):
    """A batch failed; the message names the script, line, statement and driver error."""


@dataclass(frozen=True)
class Batch:
    """One ``GO``-separated batch of a script."""

    script: str
    line: int
    """1-based line of the script the batch starts on."""
    text: str

    @property
    def headline(self) -> str:
        """The batch's first line of SQL (comments skipped), for messages."""
        for raw in self.text.splitlines():
            line = raw.strip()
            if line and not line.startswith("--"):
                return line
        return ""

    def describe(self) -> str:
        return f"{self.script}:{self.line} ({self.headline!r})"


@dataclass
class ApplyReport:
    """What :func:`apply_scripts` did."""

    executed: list[Batch] = field(default_factory=list)
    skipped: list[tuple[Batch, str]] = field(default_factory=list)


def split_batches(script: str, name: str = "<script>") -> list[Batch]:
    """Cut a T-SQL script at lines holding only ``GO``; batches of only comments are dropped.

    A batch's ``line`` is where its first SQL line is (leading comments are kept in its text).
    """
    batches: list[Batch] = []
    start = 0
    for match in [*_GO.finditer(script), None]:
        end = len(script) if match is None else match.start()
        text = script[start:end]
        if _COMMENT_LINE.sub("", text).strip():
            position = start
            for raw in text.splitlines(keepends=True):
                stripped = raw.strip()
                if stripped and not stripped.startswith("--"):
                    break
                position += len(raw)
            line = script.count("\n", 0, position) + 1
            batches.append(Batch(name, line, text.strip("\n")))
        if match is not None:
            start = match.end()
    return batches


def read_batches(path: Path) -> list[Batch]:
    """The batches of a script file; a missing file is a clear error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SqlApplyError(f"cannot read SQL script {path}: {exc}") from exc
    return split_batches(text, str(path))


# --- SQLite adaptation -------------------------------------------------------------------------


def sqlite_table_name(qualified: str) -> str:
    """``bms.fact_seat_payment`` -> ``fact_seat_payment``: the name the adaptation gives it."""
    return qualified.rpartition(".")[2]


def _sqlite_tree(expression: Any) -> Any:
    from sqlglot import exp

    def rename(node: Any) -> Any:
        if isinstance(node, exp.National):  # N'text': SQLite strings are Unicode already
            return exp.Literal.string(node.this)
        if isinstance(node, exp.Table) and node.args.get("db") is not None:
            return exp.Table(this=exp.to_identifier(node.name), alias=node.args.get("alias"))
        return node

    return expression.transform(rename)


def _to_sqlite(tsql: str) -> str:
    try:
        import sqlglot
        from sqlglot import exp
    except ImportError as exc:  # dev-only dependency
        raise SqlApplyError("the sqlite dialect needs sqlglot ('pip install sqlglot')") from exc
    tree = _sqlite_tree(sqlglot.parse_one(tsql, read="tsql"))
    if isinstance(tree, exp.Create):
        tree.set("properties", None)
        tree.set("exists", True)
    elif isinstance(tree, exp.Drop):
        tree.set("exists", True)
    return str(tree.sql(dialect="sqlite"))


def sqlite_statements(batch: Batch) -> tuple[list[str], str | None]:
    """(statements to run on SQLite, reason the batch is skipped or ``None``)."""
    text = _COMMENT_LINE.sub("", batch.text).strip()
    for pattern, what in _NOT_FOR_SQLITE:
        if pattern.search(text):
            return [], f"SQLite has no {what}"
    for function in _SQLITE_LACKS:
        if function in text.upper():
            return [], f"SQLite has no {function}"
    key = _PRIMARY_KEY.search(text)
    if key:
        table = sqlite_table_name(key.group("table").replace("[", "").replace("]", ""))
        columns = ", ".join(c.strip() for c in key.group("columns").split(","))
        return [
            f"CREATE UNIQUE INDEX IF NOT EXISTS {key.group('name')} ON {table} ({columns})"
        ], None
    guard = _GUARD.match(text)
    body = guard.group("body") if guard else text
    return [_to_sqlite(body.strip().rstrip(";"))], None


# --- applying ----------------------------------------------------------------------------------


def plan(paths: Sequence[Path], dialect: Dialect) -> list[tuple[Batch, list[str], str | None]]:
    """Every batch of ``paths`` with the statements ``dialect`` runs for it (or a skip reason)."""
    if dialect not in DIALECTS:
        raise SqlApplyError(f"--dialect must be one of {', '.join(DIALECTS)}, got {dialect!r}")
    planned: list[tuple[Batch, list[str], str | None]] = []
    for path in paths:
        for batch in read_batches(path):
            if dialect == "synapse":
                planned.append((batch, [batch.text], None))
            else:
                try:
                    statements, reason = sqlite_statements(batch)
                except SqlApplyError:
                    raise
                except Exception as exc:  # sqlglot parse/generate errors
                    raise SqlApplyError(
                        f"cannot adapt {batch.describe()} to SQLite: {exc}"
                    ) from exc
                planned.append((batch, statements, reason))
    return planned


def execute_plan(
    cursor: Any, planned: Iterable[tuple[Batch, list[str], str | None]]
) -> ApplyReport:
    """Run planned statements on a DB-API cursor; the first failure raises
    :class:`SqlApplyError`."""
    report = ApplyReport()
    for batch, statements, reason in planned:
        if reason is not None:
            report.skipped.append((batch, reason))
            continue
        for statement in statements:
            try:
                cursor.execute(statement)
            except Exception as exc:
                raise SqlApplyError(f"batch at {batch.describe()} failed: {exc}") from exc
        report.executed.append(batch)
    return report


def apply_scripts(
    connection_string: str,
    paths: Sequence[Path] = (CREATE_TABLES_SCRIPT,),
    dialect: Dialect = "synapse",
) -> ApplyReport:
    """Run ``paths`` batch by batch over ODBC (pyodbc imported lazily by
    :mod:`bms_core.synapse.odbc`)."""
    planned = plan(paths, dialect)
    connection = connect(connection_string, autocommit=True)
    try:
        try:
            return execute_plan(connection.cursor(), planned)
        except SqlApplyError as exc:
            if dialect == "synapse" and "sqlite" in connection_string.lower():
                raise SqlApplyError(
                    f"{exc}\nThe driver looks like SQLite: pass --dialect sqlite"
                ) from exc
            raise
    finally:
        connection.close()
