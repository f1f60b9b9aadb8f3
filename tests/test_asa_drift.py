"""No silent drift between the .asaql, sql/, asa/*.json and the Python contract and job."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from bms_core.joined import (
    EVENT_CATEGORIES,
    IST_OFFSET_MINUTES,
    ORDER_CLEAN_TABLE,
    ORDER_COLUMNS,
    ORDER_KEY,
    ORDER_TABLE,
    OTHER_CATEGORY,
    OTHER_PAYMENT_TYPE,
    PAYMENT_TYPES,
    SEAT_CLEAN_TABLE,
    SEAT_COLUMNS,
    SEAT_KEY,
    SEAT_TABLE,
)
from bms_core.names import (
    ASA_CONSUMER_GROUP,
    BOOKINGS_HUB,
    JOIN_WINDOW_SECONDS,
    JOINED_HUB,
    PARTITION_KEY_FIELD,
    PAYMENTS_HUB,
)
from bms_core.projection import JOIN_WINDOW_MS, in_window
from bms_core.synapse import CREATE_TABLES_SCRIPT, LOAD_CLEAN_SCRIPT, read_batches
from bms_local.stream_job import OrderingPolicy, StreamJob
from bms_local.stream_job.clean import REQUIRED_BOOKING_FIELDS, REQUIRED_PAYMENT_FIELDS

ROOT = Path(__file__).resolve().parents[1]
ASA = ROOT / "asa"
QUERY = (ASA / "bms_join.asaql").read_text()
CLEAN_SOURCE = (ROOT / "bms_local" / "stream_job" / "clean.py").read_text()
SEAT_NAMES = [c.name for c in SEAT_COLUMNS]
ORDER_NAMES = [c.name for c in ORDER_COLUMNS]


def _code(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _select_into(alias: str) -> list[str]:
    code = _code(QUERY)
    into = code.find(f"INTO [{alias}]")
    assert into > 0, f"no SELECT ... INTO [{alias}] in the query"
    select = code.rfind("SELECT", 0, into)
    return [item.strip() for item in code[select + len("SELECT") : into].split(",")]


def _step_aliases(step: str) -> list[str]:
    body = re.search(rf"\b{step} AS \(\s*SELECT(.*?)\bFROM\b", _code(QUERY), re.S)
    assert body, f"no step {step} in the query"
    return re.findall(r"\bAS\s+(\w+)\s*(?:,|$)", body.group(1).strip() + ",")


def _case_mapping(field: str) -> tuple[dict[str, str], str]:
    block = re.search(
        rf"CASE TRY_CAST\({re.escape(field)} AS nvarchar\(max\)\)(.*?)END", _code(QUERY), re.S
    )
    assert block, f"no CASE over {field} in the query"
    pairs = dict(re.findall(r"WHEN '([^']*)' THEN '([^']*)'", block.group(1)))
    other = re.search(r"ELSE '([^']*)'", block.group(1))
    assert other
    return pairs, other.group(1)


def test_window_bounds_match_the_python_window() -> None:
    bounds = re.findall(
        r"DATEDIFF\(\s*second\s*,\s*b\s*,\s*p\s*\)\s+BETWEEN\s+(\d+)\s+AND\s+(\d+)", QUERY
    )
    assert bounds == [("0", str(JOIN_WINDOW_SECONDS))]
    assert JOIN_WINDOW_MS == JOIN_WINDOW_SECONDS * 1000 == StreamJob().window_ms
    assert in_window(0, JOIN_WINDOW_MS) and not in_window(0, JOIN_WINDOW_MS + 1)


def test_join_matches_order_id_across_partitions() -> None:
    """Producers send keyless batches: the join must not ask for partition alignment."""
    on = re.search(r"JOIN CleanPayments p\s+ON(.*?)\n\)", _code(QUERY), re.S)
    assert on
    condition = " ".join(on.group(1).split())
    window = f"DATEDIFF(second, b, p) BETWEEN 0 AND {JOIN_WINDOW_SECONDS}"
    assert condition == f"b.order_id = p.order_id AND {window}"
    assert "PartitionId" not in _code(QUERY)
    assert "PARTITION BY" not in _code(QUERY).upper()


def test_category_and_payment_type_mappings_match_joined_py() -> None:
    assert _case_mapping("event_details.event_type") == (EVENT_CATEGORIES, OTHER_CATEGORY)
    assert _case_mapping("payment_method") == (PAYMENT_TYPES, OTHER_PAYMENT_TYPE)


@pytest.mark.parametrize(
    ("step", "fields", "kind"),
    [
        ("CleanBookings", REQUIRED_BOOKING_FIELDS, "booking"),
        ("CleanPayments", REQUIRED_PAYMENT_FIELDS, "payment"),
    ],
)
def test_where_filters_are_the_fields_the_reference_job_requires(
    step: str, fields: tuple[str, ...], kind: str
) -> None:
    body = re.search(rf"\b{step} AS \(.*?\bWHERE\b(.*?)\n\)", _code(QUERY), re.S)
    assert body, f"no WHERE in step {step}"
    required = re.findall(r"TRY_CAST\(([\w.]+) AS", body.group(1))
    assert required == list(fields)
    # and the job rejects exactly those, naming the field
    assert all(f"{kind}.{field}" in CLEAN_SOURCE for field in fields)


def test_ist_offset_matches_joined_py() -> None:
    offsets = re.findall(r"DATEADD\(\s*minute\s*,\s*(-?\d+)\s*,", _code(QUERY))
    assert offsets and set(offsets) == {str(IST_OFFSET_MINUTES)}


@pytest.mark.parametrize(
    ("alias", "names"),
    [(JOINED_HUB, SEAT_NAMES), ("synapse-seats", SEAT_NAMES), ("synapse-orders", ORDER_NAMES)],
)
def test_output_column_lists_match_joined_py(alias: str, names: list[str]) -> None:
    assert _select_into(alias) == names


def test_steps_feeding_the_outputs_define_every_output_column() -> None:
    assert _step_aliases("SeatRows") == SEAT_NAMES
    assert set(ORDER_NAMES) <= set(_step_aliases("Paired"))
    assert "SELECT *" not in _code(QUERY).upper().replace("  ", " ")


def test_job_config_matches_the_reference_jobs_policy() -> None:
    config = json.loads((ASA / "JobConfig.json").read_text())
    policy = OrderingPolicy()
    assert config["EventsLateArrivalMaxDelayInSeconds"] == policy.late_arrival_s
    assert config["EventsOutOfOrderMaxDelayInSeconds"] == policy.out_of_order_s
    assert config["EventsOutOfOrderPolicy"] == ("Adjust" if policy.adjust else "Drop")
    assert config["CompatibilityLevel"] == "1.2"
    assert config["Sku"]["Name"] == "StandardV2"
    assert config["UseSystemAssignedIdentity"] is True


def test_inputs_and_outputs_use_the_project_names() -> None:
    for hub in (BOOKINGS_HUB, PAYMENTS_HUB):
        spec = json.loads((ASA / "Inputs" / f"Input_{hub}.json").read_text())
        assert spec["Name"] == hub and f"FROM [{hub}]" in QUERY
        assert spec["EventHubProperties"]["EventHubName"] == hub
        assert spec["EventHubProperties"]["ConsumerGroupName"] == ASA_CONSUMER_GROUP
        assert spec["EventHubProperties"]["AuthenticationMode"] == "Msi"
        assert "PartitionKey" not in spec  # producers set no key; the job does not assume one
        assert spec["Serialization"] == {"Type": "Json", "Encoding": "UTF8"}
    joined = json.loads((ASA / "Outputs" / f"Output_{JOINED_HUB}.json").read_text())
    assert joined["EventHubProperties"]["PartitionKey"] == PARTITION_KEY_FIELD
    assert joined["Serialization"]["Format"] == "LineSeparated"
    for alias, table in (("synapse-seats", SEAT_TABLE), ("synapse-orders", ORDER_TABLE)):
        spec = json.loads((ASA / "Outputs" / f"Output_{alias}.json").read_text())
        assert spec["DataWarehouseProperties"]["Table"] == table
        assert spec["DataWarehouseProperties"]["AuthenticationMode"] == "Msi"


def _tables() -> dict[str, list[tuple[str, str, bool]]]:
    tables: dict[str, list[tuple[str, str, bool]]] = {}
    batches = [b for path in sorted((ROOT / "sql").glob("*.sql")) for b in read_batches(path)]
    for batch in (b for b in batches if "CREATE TABLE" in b.text.upper()):
        for tree in sqlglot.parse(batch.text, read="tsql"):
            for create in tree.find_all(exp.Create) if tree else ():
                if create.kind != "TABLE":
                    continue
                schema = create.this
                name = f"{schema.this.db}.{schema.this.name}"
                columns = []
                for col in schema.expressions:
                    if not isinstance(col, exp.ColumnDef):
                        continue
                    nullable = not any(
                        isinstance(c.kind, exp.NotNullColumnConstraint)
                        and not c.kind.args.get("allow_null")
                        for c in col.constraints
                    )
                    columns.append(
                        (col.name, col.kind.sql(dialect="tsql").replace(" ", ""), nullable)
                    )
                tables[name] = columns
    return tables


def _tsql_type(text: str) -> str:
    return exp.DataType.build(text, dialect="tsql").sql(dialect="tsql").replace(" ", "")


_GRAINS = (
    (SEAT_TABLE, SEAT_CLEAN_TABLE, SEAT_COLUMNS, SEAT_KEY),
    (ORDER_TABLE, ORDER_CLEAN_TABLE, ORDER_COLUMNS, ORDER_KEY),
)


def test_synapse_tables_match_the_query_outputs_column_for_column() -> None:
    tables = _tables()
    assert set(tables) == {SEAT_TABLE, ORDER_TABLE, SEAT_CLEAN_TABLE, ORDER_CLEAN_TABLE}
    for landing, clean, columns, _ in _GRAINS:
        expected = [(c.name, _tsql_type(c.sql_type), c.nullable) for c in columns]
        assert tables[landing] == expected
        assert tables[clean] == expected


_PRIMARY_KEY = re.compile(
    r"ALTER\s+TABLE\s+(?P<table>[\w.]+)\s+ADD\s+CONSTRAINT\s+(?P<name>\w+)\s+"
    r"PRIMARY\s+KEY\s+(?P<kind>[A-Z ]*?)\s*\((?P<columns>[^)]*)\)\s*(?P<rest>[A-Z ]*);",
    re.IGNORECASE,
)


def test_only_the_curated_tables_carry_primary_keys_on_the_logical_keys() -> None:
    keys = {}
    for batch in read_batches(CREATE_TABLES_SCRIPT):
        for found in _PRIMARY_KEY.finditer(batch.text):
            assert found.group("kind").upper() == "NONCLUSTERED"
            assert found.group("rest").upper().split() == ["NOT", "ENFORCED"]
            # guarded by the constraint's own name, so a second run adds nothing
            assert f"name = N'{found.group('name')}'" in batch.text
            assert "sys.key_constraints" in batch.text
            columns = tuple(c.strip() for c in found.group("columns").split(","))
            keys[found.group("table")] = columns
    assert keys == {clean: key for _, clean, _, key in _GRAINS}
    for _, _, columns, key in _GRAINS:
        assert all(not c.nullable for c in columns if c.name in key)


def test_the_load_script_copies_every_column_from_the_dedup_views_by_key() -> None:
    inserts = [sqlglot.parse_one(b.text, read="tsql") for b in read_batches(LOAD_CLEAN_SCRIPT)]
    assert [type(i) for i in inserts] == [exp.Insert, exp.Insert]
    views = {SEAT_CLEAN_TABLE: "bms.v_seat_payment", ORDER_CLEAN_TABLE: "bms.v_order_payment"}
    for insert, (_, clean, columns, key) in zip(inserts, _GRAINS, strict=True):
        target = insert.this
        assert f"{target.this.db}.{target.this.name}" == clean
        names = [c.name for c in columns]
        assert [c.name for c in target.expressions] == names
        select = insert.expression
        assert [e.name for e in select.expressions] == names
        source = select.find(exp.From).this
        assert f"{source.db}.{source.name}" == views[clean]
        exists = select.find(exp.Exists)
        assert exists is not None and isinstance(exists.parent, exp.Not)
        compared = {eq.left.name for eq in exists.find_all(exp.EQ)}
        assert compared == set(key)


def test_synapse_ddl_is_distributed_heap_and_guarded() -> None:
    script = CREATE_TABLES_SCRIPT.read_text()
    assert script.count("WITH (DISTRIBUTION = HASH(order_id), HEAP)") == 4
    assert "MAX)" not in script.upper().replace(" ", "")
    for batch in read_batches(CREATE_TABLES_SCRIPT):
        head = batch.headline.upper()
        assert head.startswith(("IF ", "CREATE VIEW")), f"unguarded batch at {batch.describe()}"
