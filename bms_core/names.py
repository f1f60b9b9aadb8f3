"""Names two places need: hubs, consumer groups, app-setting names, tables, join window.

Every other module (and the tests that compare ``asa/``, ``sql/``, ``host.json`` and
``local.settings.json.example`` against Python) imports these instead of repeating them.
"""

from __future__ import annotations

from typing import Final

# --- the stream ---------------------------------------------------------------------------
JOIN_WINDOW_SECONDS: Final = 900
"""A payment joins a booking when 0 <= payment_time - booking_time <= 900 s (inclusive)."""

PARTITION_COUNT: Final = 4
"""Partitions of every hub locally; bookings and payments must have the same count on Azure."""

BOOKINGS_HUB: Final = "bookings"
PAYMENTS_HUB: Final = "payments"
JOINED_HUB: Final = "joined"
HUBS: Final = (BOOKINGS_HUB, PAYMENTS_HUB, JOINED_HUB)

ASA_CONSUMER_GROUP: Final = "asa"
"""Dedicated consumer group the Stream Analytics job reads bookings and payments with."""
VALIDATOR_CONSUMER_GROUP: Final = "validator"
"""Dedicated consumer group validate_joined reads the joined hub with."""

PARTITION_KEY_FIELD: Final = "order_id"
"""Partition key of ``publish --keyed`` and the joined output; the functions send keyless."""

EVENT_MAX_BYTES: Final = 1_000_000
"""Largest body a producer here may produce. Event Hubs refuses a message (and so a batch)
over 1 MiB on Standard and Premium namespaces; the rest is room for the AMQP envelope."""

# --- app settings (names only; values come from the environment) --------------------------
EVENTHUB_CONNECTION_SETTING: Final = "EventHubConnection"
STORAGE_CONNECTION_SETTING: Final = "AzureWebJobsStorage"

# --- Table storage ------------------------------------------------------------------------
BURSTS_TABLE: Final = "bmsbursts"
FINDINGS_TABLE: Final = "bmsfindings"
VALIDATION_SUMMARY_TABLE: Final = "bmsvalidation"
RECONCILE_TABLE: Final = "bmsreconcile"
TABLES: Final = (BURSTS_TABLE, FINDINGS_TABLE, VALIDATION_SUMMARY_TABLE, RECONCILE_TABLE)

# --- Queue storage ------------------------------------------------------------------------
BURST_QUEUE: Final = "bms-burst-chunks"
"""Flash-sale bursts are fanned out in chunks through this queue on ``AzureWebJobsStorage``
(the host names its poison queue ``bms-burst-chunks-poison``)."""
QUEUES: Final = (BURST_QUEUE,)

# --- local endpoints ----------------------------------------------------------------------
LOCAL_EVENTHUBS_PORT: Final = 5672
AZURITE_BLOB_PORT: Final = 10000
AZURITE_QUEUE_PORT: Final = 10001
AZURITE_TABLE_PORT: Final = 10002
