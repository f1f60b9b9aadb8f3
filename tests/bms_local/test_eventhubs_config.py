"""Config.json in Microsoft's emulator format; the shipped sample matches bms_core.names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bms_core.names import ASA_CONSUMER_GROUP, HUBS, PARTITION_COUNT, VALIDATOR_CONSUMER_GROUP
from bms_local.cli.eventhubs import SAMPLE_CONFIG
from bms_local.eventhubs.config import ConfigError, load_config, parse_config, project_config


def test_shipped_sample_is_the_project_config() -> None:
    config = load_config(SAMPLE_CONFIG)
    assert config == project_config()
    assert [h.name for h in config.hubs] == list(HUBS)
    for hub in config.hubs:
        assert hub.partition_count == PARTITION_COUNT
        assert set(hub.consumer_groups) == {
            "$Default",
            ASA_CONSUMER_GROUP,
            VALIDATOR_CONSUMER_GROUP,
        }


def test_microsoft_sample_shape_is_accepted() -> None:
    doc = {
        "UserConfig": {
            "NamespaceConfig": [
                {
                    "Type": "EventHub",
                    "Name": "emulatorNs1",
                    "Entities": [
                        {"Name": "eh1", "PartitionCount": "2", "ConsumerGroups": [{"Name": "cg1"}]}
                    ],
                }
            ],
            "LoggingConfig": {"Type": "File"},
        }
    }
    (hub,) = parse_config(doc).hubs
    assert (hub.name, hub.partition_count, hub.consumer_groups) == ("eh1", 2, ("$Default", "cg1"))


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("UserConfig"), "$.UserConfig"),
        (lambda d: d["UserConfig"]["NamespaceConfig"][0].update(Type="ServiceBus"), ".Type"),
        (
            lambda d: d["UserConfig"]["NamespaceConfig"][0]["Entities"][0].update(
                PartitionCount="0"
            ),
            "PartitionCount",
        ),
        (
            lambda d: d["UserConfig"]["NamespaceConfig"][0]["Entities"][0].pop("Name"),
            "Entities[0].Name",
        ),
        (
            lambda d: d["UserConfig"]["NamespaceConfig"][0]["Entities"].append(
                {"Name": "BOOKINGS"}
            ),
            "defined twice",
        ),
        (
            lambda d: d["UserConfig"]["NamespaceConfig"][0]["Entities"][1]["ConsumerGroups"].append(
                {}
            ),
            "ConsumerGroups[2].Name",
        ),
    ],
)
def test_errors_name_the_field(mutate: object, field: str) -> None:
    doc = json.loads(SAMPLE_CONFIG.read_text())
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(
        ConfigError, match=field.replace("[", r"\[").replace("]", r"\]").replace("$", r"\$")
    ):
        parse_config(doc)


def test_missing_and_invalid_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad)
