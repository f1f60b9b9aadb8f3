"""The azd postprovision hook builds a ``bms_core sql apply`` call the CLI accepts, for the
deployed pool and job, and addresses the deployed job (no Azure here: nothing is sent)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

from bms_core.cli import sql

REPO = Path(__file__).resolve().parents[1]
ENV = {
    "SYNAPSE_ENABLED": "true",
    "SYNAPSE_SQL_SERVER": "syn-abc.sql.azuresynapse.net",
    "SYNAPSE_POOL_NAME": "bmspool",
    "STREAM_JOB_NAME": "asa-abc",
    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000001",
    "AZURE_RESOURCE_GROUP": "rg-dev",
}


def hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "postprovision", REPO / "infra" / "hooks" / "postprovision.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_job_user_script_names_the_deployed_job() -> None:
    script = hook().job_user_script("asa-abc")
    assert "<asa-job-name>" not in script
    assert "CREATE USER [asa-abc] FROM EXTERNAL PROVIDER" in script


def test_sql_apply_command_is_one_the_cli_accepts(tmp_path: Path) -> None:
    user = tmp_path / "synapse_asa_user.sql"
    command = hook().sql_apply_command(ENV, user)
    assert command[1:5] == ["-m", "bms_core", "sql", "apply"]
    parser = argparse.ArgumentParser()
    sql.add_arguments(parser)
    args = parser.parse_args(command[4:])
    assert args.action == "apply" and args.dialect == "synapse"
    assert args.script == [REPO / "sql" / "synapse_create_table.sql", user]
    assert args.script[0].is_file()
    assert "Server=tcp:syn-abc.sql.azuresynapse.net,1433;Database=bmspool;" in args.connection
    assert "Authentication=ActiveDirectoryDefault;" in args.connection
    assert "Pwd" not in args.connection and "Password" not in args.connection
    interactive = hook().sql_apply_command(
        {**ENV, "BMS_SQL_AUTHENTICATION": "ActiveDirectoryInteractive"}, user
    )
    assert "Authentication=ActiveDirectoryInteractive;" in interactive[6]


def test_job_url_addresses_the_deployed_job() -> None:
    url = hook().job_url(ENV, "start")
    assert url.startswith("https://management.azure.com/subscriptions/00000000-")
    assert (
        "/resourceGroups/rg-dev/providers/Microsoft.StreamAnalytics/streamingjobs/asa-abc/start?"
        in url
    )
