"""azd postprovision hook: prepare the warehouse (when deployed), then start the stream job.

azd runs this after every ``azd provision`` / ``azd up`` with the template's outputs in the
environment (``SYNAPSE_ENABLED``, ``SYNAPSE_SQL_SERVER``, ``STREAM_JOB_NAME`` ...). Both steps
are safe to repeat:

1. With Synapse: ``python -m bms_core sql apply`` runs ``sql/synapse_create_table.sql`` and
   ``sql/synapse_asa_user.sql`` (its ``<asa-job-name>`` placeholder filled with the job's name)
   against the dedicated pool, signed in as you (the workspace's Entra admin). The
   authentication keyword is ``ActiveDirectoryDefault`` unless ``BMS_SQL_AUTHENTICATION`` says
   otherwise (e.g. ``ActiveDirectoryInteractive`` for a browser sign-in).
2. The Stream Analytics job is started through Azure Resource Manager with your own sign-in
   (``azd auth login`` or ``az login``; a job that already runs is left alone). A job bills per
   hour while it runs.

Without azd, set those variables yourself (``AZURE_SUBSCRIPTION_ID``, ``AZURE_RESOURCE_GROUP``,
``STREAM_JOB_NAME`` and, with Synapse, ``SYNAPSE_*``) and run ``python infra/hooks/postprovision.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CREATE_TABLES = REPO / "sql" / "synapse_create_table.sql"
JOB_USER = REPO / "sql" / "synapse_asa_user.sql"
JOB_NAME_PLACEHOLDER = "<asa-job-name>"
ARM = "https://management.azure.com"
STREAM_ANALYTICS_API = "2020-03-01"


def sql_connection(server: str, database: str, authentication: str) -> str:
    """The ODBC connection string of the pool; Entra authentication, so no password."""
    return (
        "Driver={ODBC Driver 18 for SQL Server};"
        f"Server=tcp:{server},1433;Database={database};"
        f"Authentication={authentication};Encrypt=yes;"
    )


def job_user_script(job_name: str) -> str:
    """``sql/synapse_asa_user.sql`` for this job: its identity's display name is the job name."""
    return JOB_USER.read_text(encoding="utf-8").replace(JOB_NAME_PLACEHOLDER, job_name)


def sql_apply_command(env: Mapping[str, str], user_script: Path) -> list[str]:
    """The ``python -m bms_core sql apply`` command for the deployed pool."""
    connection = sql_connection(
        env["SYNAPSE_SQL_SERVER"],
        env["SYNAPSE_POOL_NAME"],
        env.get("BMS_SQL_AUTHENTICATION") or "ActiveDirectoryDefault",
    )
    return [
        sys.executable,
        "-m",
        "bms_core",
        "sql",
        "apply",
        "--connection",
        connection,
        "--script",
        str(CREATE_TABLES),
        "--script",
        str(user_script),
    ]


def apply_sql(env: Mapping[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="bms-sql-") as folder:
        script = Path(folder) / JOB_USER.name
        script.write_text(job_user_script(env["STREAM_JOB_NAME"]), encoding="utf-8")
        subprocess.run(sql_apply_command(env, script), cwd=REPO, check=True)


def job_url(env: Mapping[str, str], action: str = "") -> str:
    path = (
        f"/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/"
        f"{env['AZURE_RESOURCE_GROUP']}/providers/Microsoft.StreamAnalytics/streamingjobs/"
        f"{env['STREAM_JOB_NAME']}"
    )
    return f"{ARM}{path}{'/' + action if action else ''}?api-version={STREAM_ANALYTICS_API}"


def start_job(env: Mapping[str, str]) -> str:
    """Start the job unless it runs already; returns what was done."""
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(exclude_managed_identity_credential=True)
    token = credential.get_token(f"{ARM}/.default").token
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(job_url(env), headers=headers)) as reply:
        state = json.load(reply)["properties"].get("jobState", "")
    if state in ("Running", "Starting"):
        return f"stream job {env['STREAM_JOB_NAME']} is {state.lower()}"
    body = json.dumps({"outputStartMode": "JobStartTime"}).encode()
    request = urllib.request.Request(job_url(env, "start"), body, headers, method="POST")
    with urllib.request.urlopen(request):
        pass
    return f"stream job {env['STREAM_JOB_NAME']} starting (was {state or 'new'})"


def main(env: Mapping[str, str]) -> int:
    if env.get("SYNAPSE_ENABLED", "false").lower() == "true":
        apply_sql(env)
    try:
        print(start_job(env))
    except (urllib.error.URLError, OSError, ImportError) as exc:
        print(f"could not start the stream job: {exc}; start it in the portal", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(os.environ))
