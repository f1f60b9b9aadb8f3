"""Shared fixtures. Service fixtures live in their own plugin modules, one service each."""

pytest_plugins = [
    "tests.services_azurite",
    "tests.services_eventhubs",
]
