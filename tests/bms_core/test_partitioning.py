"""Partition routing must equal the Event Hubs SDK's (and so the service's) on every key."""

from __future__ import annotations

import random
import string

import pytest
from azure.eventhub._buffered_producer._partition_resolver import generate_hash_code

from bms_core.publishing.partitioning import hash_code, partition_for


def _keys(count: int) -> list[str]:
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "-_.:"
    keys = ["", "a", "order-1", "x" * 12, "y" * 13, "z" * 24, "t-1a2b-3c-4d"]
    keys += ["".join(rng.choices(alphabet, k=rng.randint(1, 70))) for _ in range(count)]
    return keys


def test_hash_code_equals_sdk_on_many_keys() -> None:
    mismatches = [k for k in _keys(20_000) if hash_code(k) != generate_hash_code(k)]
    assert mismatches == []


@pytest.mark.parametrize("count", [1, 2, 3, 4, 8, 32])
def test_partition_for_matches_sdk_resolver(count: int) -> None:
    for key in _keys(2_000):
        assert partition_for(key, count) == abs(generate_hash_code(key) % count)


def test_keys_spread_over_all_partitions() -> None:
    seen = {partition_for(f"order-{i}", 4) for i in range(200)}
    assert seen == {0, 1, 2, 3}


def test_zero_partitions_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="partition_count"):
        partition_for("k", 0)
