"""The azd template (``azure.yaml``, ``infra/``) checked offline against the code it deploys.

No Bicep compiler or Azure here: every ``.bicep`` file is parsed with ``pycep-parser``
(``tests/infra_templates.py``) and the parsed templates are read structurally. Expectations come
from the code (``bms_core.settings``, ``bms_core.names``, ``asa/``), so renaming a hub, a table, a
setting or an ASA input without the template fails here. Built-in role definition ids are Azure
facts (the same in every tenant).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from bms_core import names, settings
from tests.infra_templates import (
    BICEP_FILES,
    INFRA,
    MAIN,
    REPO,
    Template,
    accessors,
    app_settings,
    assignments,
    loaded_files,
    main,
    module,
    parse,
    storage_names,
)
from tests.test_deploy_package import package_files

ROLE = {
    "Azure Event Hubs Data Sender": "2b629674-e913-4c01-ae53-ef4638d8f975",
    "Azure Event Hubs Data Receiver": "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Storage Table Data Reader": "76199698-9eea-4c19-bc75-cec21354c6b6",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}
HUB = "Microsoft.EventHub/namespaces/eventhubs"
QUEUE = "Microsoft.Storage/storageAccounts/queueServices/queues"
CONTAINER = "Microsoft.Storage/storageAccounts/blobServices/containers"
ACCOUNT = "Microsoft.Storage/storageAccounts"
COMPONENT = "Microsoft.Insights/components"


# --- the files ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_bicep_file_parses(path: Path) -> None:
    parsed = parse(path)
    assert parsed.get("resources") or parsed.get("modules")


def test_modules_are_files_of_this_repo_not_registry_modules() -> None:
    for path in BICEP_FILES:
        for symbol, mod in (parse(path).get("modules") or {}).items():
            assert mod["type"] == "local", f"{path.name}: module {symbol} is {mod['type']}"
            assert (path.parent / mod["detail"]["path"]).is_file(), symbol
    used = {(MAIN.parent / m["detail"]["path"]).resolve() for m in main().modules.values()}
    assert used == {p.resolve() for p in BICEP_FILES if p != MAIN}


def test_no_key_sas_or_connection_string_is_read_or_output() -> None:
    for path in BICEP_FILES:
        text = path.read_text()
        for forbidden in ("listKeys", "listConnectionStrings", "listAccountSas", "listServiceSas"):
            assert forbidden not in text, f"{path.name} calls {forbidden}"
        for secret in ("AccountKey=", "SharedAccessKey", "@secure", "Password="):
            assert secret not in text, f"{path.name} mentions {secret}"


def test_outputs_name_resources_not_secrets() -> None:
    """The one connection string passed between modules is Application Insights', which holds
    no secret once local authentication is disabled (ingestion then needs an Entra token)."""
    for path in BICEP_FILES:
        for name in parse(path).get("outputs") or {}:
            if name == "applicationInsightsConnectionString":
                continue
            for word in ("key", "secret", "password", "sas", "connection", "token"):
                assert word not in name.lower(), f"{path.name}: output {name}"


def test_shared_keys_and_local_auth_are_disabled_everywhere() -> None:
    accounts = 0
    for path in BICEP_FILES:
        template = Template(path)
        for resource in template.of_type(ACCOUNT).values():
            if not resource["existing"]:
                accounts += 1
                assert template.body(resource)["properties"]["allowSharedKeyAccess"] is False
    assert accounts == 2  # the app's account and Synapse's data lake
    (namespace,) = module("eventHubs").of_type("Microsoft.EventHub/namespaces").values()
    assert namespace["config"]["properties"]["disableLocalAuth"] is True
    (component,) = module("monitoring").of_type(COMPONENT).values()
    assert component["config"]["properties"]["DisableLocalAuth"] is True


# --- Event Hubs ----------------------------------------------------------------------------------
def test_the_three_hubs_share_one_partition_count_parameter() -> None:
    hubs = module("eventHubs")
    made = {
        hubs.name_of(k)[-1]: hubs.body(r)["properties"]["partitionCount"]
        for k, r in hubs.of_type(HUB).items()
    }
    assert set(made) == set(names.HUBS)
    assert set(made.values()) == {"partitionCount"}  # the raw expression: one parameter
    assert "partitionCount" in hubs.params
    assert main().body(main().modules["eventHubs"])["params"]["partitionCount"] == "partitionCount"
    assert main().params["partitionCount"]["default"] == names.PARTITION_COUNT


def test_consumer_groups_the_job_and_the_validator_read_with_exist() -> None:
    hubs = module("eventHubs")
    groups = {hubs.name_of(k)[-2:] for k in hubs.of_type(f"{HUB}/consumergroups")}
    assert groups == {
        (names.BOOKINGS_HUB, names.ASA_CONSUMER_GROUP),
        (names.PAYMENTS_HUB, names.ASA_CONSUMER_GROUP),
        (names.JOINED_HUB, names.VALIDATOR_CONSUMER_GROUP),
    }
    for input_file in (REPO / "asa" / "Inputs").glob("Input_*.json"):
        properties = json.loads(input_file.read_text())["EventHubProperties"]
        assert (properties["EventHubName"], properties["ConsumerGroupName"]) in groups


def test_namespace_is_standard_with_throughput_parameters() -> None:
    hubs = module("eventHubs")
    (namespace,) = hubs.of_type("Microsoft.EventHub/namespaces").values()
    config = namespace["config"]
    assert config["sku"]["name"] == "Standard"
    assert config["sku"]["capacity"] == "throughputUnits"
    assert config["properties"]["isAutoInflateEnabled"] == "autoInflate"
    assert {"throughputUnits", "autoInflate", "maximumThroughputUnits"} <= set(hubs.params)


# --- storage -------------------------------------------------------------------------------------
def test_every_table_and_queue_the_code_uses_exists() -> None:
    tables = storage_names("Microsoft.Storage/storageAccounts/tableServices/tables")
    assert set(names.TABLES) <= tables
    assert {
        names.BURSTS_TABLE,
        names.FINDINGS_TABLE,
        names.VALIDATION_SUMMARY_TABLE,
        names.RECONCILE_TABLE,
    } <= tables
    queues = storage_names(QUEUE)
    for queue in names.QUEUES:
        assert {queue, f"{queue}-poison"} <= queues


def test_deployment_package_container_is_the_apps_deployment_source() -> None:
    containers = storage_names(CONTAINER)
    app = module("app")
    (site,) = app.of_type("Microsoft.Web/sites").values()
    storage = site["config"]["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert "deploymentContainerName" in json.dumps(storage["value"])
    assert main().value("deploymentContainerName") in containers


# --- the Function App ----------------------------------------------------------------------------
def _code_settings() -> set[str]:
    """Every app setting name defined in bms_core/settings.py, connections aside."""
    connections = set(settings.IDENTITY_SUFFIXES)
    return {
        value
        for key, value in vars(settings).items()
        if key.isupper()
        and isinstance(value, str)
        and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value)
        and value not in connections
    }


def test_every_setting_the_code_reads_is_set() -> None:
    expected = _code_settings()
    assert {"BMS_BOOKINGS_HUB", "BMS_SYNAPSE_CONNECTION"} <= expected  # the derivation works
    assert expected <= set(app_settings())


def test_connections_are_identity_based_with_the_user_assigned_identity() -> None:
    got = app_settings()
    for name, suffixes in settings.IDENTITY_SUFFIXES.items():
        assert name not in got, f"{name} would be a connection string"
        assert any(name + suffix in got for suffix in suffixes), name
        assert got[f"{name}__credential"] == "managedidentity"
        client_id = json.loads(got[f"{name}__clientId"])
        assert "identity" in json.dumps(client_id) and "clientId" in json.dumps(client_id)
    namespace = got["EventHubConnection__fullyQualifiedNamespace"]
    assert "fullyQualifiedNamespace" in namespace  # the eventhubs module's output


def test_hub_and_consumer_group_settings_name_what_the_template_creates() -> None:
    got = app_settings()
    assert got[settings.BOOKINGS_HUB] == names.BOOKINGS_HUB
    assert got[settings.PAYMENTS_HUB] == names.PAYMENTS_HUB
    assert got[settings.JOINED_HUB] == names.JOINED_HUB
    assert got[settings.VALIDATOR_CONSUMER_GROUP] == names.VALIDATOR_CONSUMER_GROUP
    for name in settings.HOST_RESOLVED:
        assert got[name] == settings.DEFAULTS[name]


def test_function_app_is_flex_consumption_python_with_parameters() -> None:
    app = module("app")
    (plan,) = app.of_type("Microsoft.Web/serverfarms").values()
    assert plan["config"]["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    (site,) = app.of_type("Microsoft.Web/sites").values()
    assert site["config"]["identity"]["type"] == "UserAssigned"
    function_config = site["config"]["properties"]["functionAppConfig"]
    assert function_config["runtime"] == {"name": "python", "version": "runtimeVersion"}
    assert function_config["scaleAndConcurrency"] == {
        "instanceMemoryMB": "instanceMemoryMB",
        "maximumInstanceCount": "maximumInstanceCount",
    }
    assert main().params["pythonVersion"]["default"] == "3.11"


# --- role assignments ----------------------------------------------------------------------------
def test_each_role_assignment_has_its_role_on_its_one_resource() -> None:
    access = module("access")
    ns = access.args["eventHubsNamespaceName"]
    st = access.args["storageAccountName"]
    queue = names.BURST_QUEUE
    app, job = "appPrincipalId", "jobPrincipalId"
    assert access.args["burstQueueName"] == queue
    expected = {
        (app, ROLE["Azure Event Hubs Data Sender"], HUB, (ns, names.BOOKINGS_HUB)),
        (app, ROLE["Azure Event Hubs Data Sender"], HUB, (ns, names.PAYMENTS_HUB)),
        (app, ROLE["Azure Event Hubs Data Receiver"], HUB, (ns, names.JOINED_HUB)),
        (app, ROLE["Storage Blob Data Owner"], ACCOUNT, (st,)),
        (app, ROLE["Storage Table Data Contributor"], ACCOUNT, (st,)),
        (app, ROLE["Storage Queue Data Contributor"], QUEUE, (st, "default", queue)),
        (app, ROLE["Storage Queue Data Contributor"], QUEUE, (st, "default", f"{queue}-poison")),
        (
            app,
            ROLE["Monitoring Metrics Publisher"],
            COMPONENT,
            (access.args["applicationInsightsName"],),
        ),
        (job, ROLE["Azure Event Hubs Data Receiver"], HUB, (ns, names.BOOKINGS_HUB)),
        (job, ROLE["Azure Event Hubs Data Receiver"], HUB, (ns, names.PAYMENTS_HUB)),
        (job, ROLE["Azure Event Hubs Data Sender"], HUB, (ns, names.JOINED_HUB)),
        (
            job,
            ROLE["Storage Blob Data Contributor"],
            CONTAINER,
            (st, "default", access.args["warehouseContainerName"]),
        ),
        ("userPrincipalId", ROLE["Storage Table Data Reader"], ACCOUNT, (st,)),
        # the user's own command-line tools: publish sends, tail reads every hub
        ("userPrincipalId", ROLE["Azure Event Hubs Data Sender"], HUB, (ns, names.BOOKINGS_HUB)),
        ("userPrincipalId", ROLE["Azure Event Hubs Data Sender"], HUB, (ns, names.PAYMENTS_HUB)),
        *(
            ("userPrincipalId", ROLE["Azure Event Hubs Data Receiver"], HUB, (ns, hub))
            for hub in (names.BOOKINGS_HUB, names.PAYMENTS_HUB, names.JOINED_HUB)
        ),
    }
    assert assignments(access) == expected


def test_principals_are_the_apps_identity_and_the_jobs_identity() -> None:
    params = main().body(main().modules["access"])["params"]
    app_ref = params["appPrincipalId"]["operator"]["operands"]
    job_ref = params["jobPrincipalId"]["operator"]["operands"]
    assert app_ref["operand_1"] == "app" and "identityPrincipalId" in json.dumps(app_ref)
    assert job_ref["operand_1"] == "streamJob" and "principalId" in json.dumps(job_ref)


def test_no_role_is_assigned_outside_the_access_and_synapse_modules() -> None:
    for path in BICEP_FILES:
        kinds = {r["type"] for r in (parse(path).get("resources") or {}).values()}
        if path.name not in ("access.bicep", "synapse.bicep"):
            assert "Microsoft.Authorization/roleAssignments" not in kinds, path.name
    synapse = module("synapse")
    ((principal, role, kind, target),) = assignments(synapse)
    assert "workspace" in principal and "principalId" in principal
    assert (role, kind, target[-1]) == (ROLE["Storage Blob Data Contributor"], CONTAINER, "synapse")


# --- the Stream Analytics job -------------------------------------------------------------------
def test_job_query_config_inputs_and_outputs_come_from_asa() -> None:
    job = module("streamJob")
    loads = loaded_files(job)
    asa = REPO / "asa"
    project = json.loads((asa / "asaproj.json").read_text())
    wanted = {c["subType"]: [] for c in project["configurations"]}
    for entry in project["configurations"]:
        wanted[entry["subType"]].append((asa / entry["filePath"]).resolve())
    assert loads["load_text_content"] == [(asa / project["startFile"]).resolve()]
    assert sorted(loads["load_json_content"]) == sorted(
        wanted["JobConfig"] + wanted["Input"] + wanted["Output"]
    )
    (resource,) = job.of_type("Microsoft.StreamAnalytics/streamingjobs").values()
    properties = resource["config"]["properties"]
    assert properties["transformation"]["properties"]["query"] == "query"
    assert properties["inputs"] == "inputs"
    for key in ("compatibilityLevel", "dataLocale", "outputErrorPolicy", "eventsOutOfOrderPolicy"):
        assert "config" in json.dumps(properties[key]), key
    assert "config" in json.dumps(resource["config"]["identity"])


def _fields(document: dict[str, object], prefix: str) -> set[str]:
    """``prefix.Field.Sub`` for every field of a JSON document (nested objects too)."""
    found: set[str] = set()
    for key, value in document.items():
        found.add(f"{prefix}.{key}")
        if isinstance(value, dict):
            found |= _fields(value, f"{prefix}.{key}")
    return found


def test_inputs_and_outputs_are_mapped_field_by_field_from_asa() -> None:
    job = module("streamJob")
    variables = job.doc["variables"]
    asa = REPO / "asa"
    input_fields = {
        "input.Name",
        "input.Type",
        "input.EventHubProperties.EventHubName",
        "input.EventHubProperties.ConsumerGroupName",
        "input.EventHubProperties.AuthenticationMode",
        "input.Serialization.Type",
        "input.Serialization.Encoding",
        "input.CompressionType",
    }
    assert input_fields <= accessors(variables["inputs"])
    # producers send keyless batches: neither asa/ nor the template declares an input key
    assert "partitionKey" not in json.dumps(variables["inputs"])
    for path in (asa / "Inputs").glob("Input_*.json"):
        assert input_fields <= _fields(json.loads(path.read_text()), "input"), path.name
        assert "input.PartitionKey" not in _fields(json.loads(path.read_text()), "input")
    joined_fields = {
        "joinedOutput.Name",
        "joinedOutput.EventHubProperties.EventHubName",
        "joinedOutput.EventHubProperties.PartitionKey",
        "joinedOutput.EventHubProperties.PropertyColumns",
        "joinedOutput.EventHubProperties.AuthenticationMode",
        "joinedOutput.Serialization.Type",
        "joinedOutput.Serialization.Encoding",
        "joinedOutput.Serialization.Format",
    }
    assert joined_fields <= accessors(variables["joined"])
    document = json.loads((asa / "Outputs" / "Output_joined.json").read_text())
    assert joined_fields <= _fields(document, "joinedOutput")
    warehouse_fields = {
        "output.Name",
        "output.DataWarehouseProperties.Table",
        "output.DataWarehouseProperties.AuthenticationMode",
    }
    assert warehouse_fields <= accessors(variables["synapseOutputs"])
    for path in (asa / "Outputs").glob("Output_synapse-*.json"):
        assert warehouse_fields <= _fields(json.loads(path.read_text()), "output"), path.name
    for name in ("inputs", "joined", "synapseOutputs", "blobOutputs"):
        assert "ServiceBusNamespace" not in json.dumps(variables[name])  # the placeholder
        assert "SharedAccessPolicyKey" not in json.dumps(variables[name])


def test_query_aliases_are_all_defined_by_loaded_files() -> None:
    asa = REPO / "asa"
    query = (asa / "bms_join.asaql").read_text()
    sources = set(re.findall(r"FROM\s+\[([^\]]+)\]", query))
    sinks = set(re.findall(r"INTO\s+\[([^\]]+)\]", query))
    loaded = loaded_files(module("streamJob"))["load_json_content"]
    aliases = {json.loads(p.read_text()).get("Name") for p in loaded}
    assert sources | sinks <= aliases


def test_streaming_units_default_is_the_job_configs() -> None:
    config = json.loads((REPO / "asa" / "JobConfig.json").read_text())
    assert config["Sku"]["Name"] == "StandardV2"
    assert main().params["streamingUnits"]["default"] == 10 * int(config["Sku"]["StreamingUnits"])


# --- Synapse, azd ----------------------------------------------------------------------------------
def test_synapse_is_optional_and_off_by_default() -> None:
    assert main().params["deploySynapse"]["default"] is False
    assert main().modules["synapse"]["config"]["condition"] == "deploySynapse"
    (workspace,) = module("synapse").of_type("Microsoft.Synapse/workspaces").values()
    assert workspace["config"]["properties"]["azureADOnlyAuthentication"] is True
    assert "sqlAdministratorLoginPassword" not in json.dumps(workspace)


def test_parameters_file_uses_azd_conventions() -> None:
    doc = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    values = {name: entry["value"] for name, entry in doc.items()}
    assert values["environmentName"] == "${AZURE_ENV_NAME}"
    assert values["location"] == "${AZURE_LOCATION}"
    assert values["principalId"] == "${AZURE_PRINCIPAL_ID}"
    params = main().params
    assert set(values) <= set(params)
    required = {name for name, p in params.items() if p["default"] is None}
    assert required <= set(values)
    for name, value in values.items():  # "${BMS_X=default}": azd's default is the template's
        fallback = re.fullmatch(r"\$\{\w+=(.*)\}", value)
        if fallback:
            default = params[name]["default"]
            expected = str(default).lower() if isinstance(default, bool) else str(default)
            assert fallback.group(1) == expected, name


def test_azure_yaml_names_the_function_service_and_the_infra() -> None:
    doc = yaml.safe_load((REPO / "azure.yaml").read_text())
    assert doc["infra"]["provider"] == "bicep"
    assert (REPO / doc["infra"]["path"] / f"{doc['infra']['module']}.bicep") == MAIN
    (name,) = doc["services"]
    service = doc["services"][name]
    assert service["host"] == "function" and service["language"] == "python"
    assert (REPO / service["project"] / "function_app.py").is_file()
    assert name == main().value("serviceName")
    assert module("app").args["serviceName"] == name
    for shell in doc["hooks"]["postprovision"].values():
        script = shell["run"].split()[-1]
        assert (REPO / script).is_file()


def test_the_deployed_package_leaves_the_deployment_definitions_out() -> None:
    files = package_files()
    assert not any(f.startswith(("infra/", "docs/")) or f == "azure.yaml" for f in files)
