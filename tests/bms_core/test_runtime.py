"""The runtime names new bursts: randomly by default, as a runner says when it must repeat."""

from __future__ import annotations

import pytest

from bms_core.functions.runtime import Runtime
from bms_core.traffic.orderid import is_burst_id


def test_bursts_are_named_randomly_by_default() -> None:
    runtime = Runtime({})
    names = {runtime.new_burst_id() for _ in range(20)}
    assert len(names) == 20 and all(is_burst_id(name) for name in names)


def test_a_runner_can_name_bursts_and_a_bad_name_is_refused() -> None:
    names = iter(["bdemo00001", "bdemo00002"])
    runtime = Runtime({}, burst_ids=lambda: next(names))
    assert [runtime.new_burst_id(), runtime.new_burst_id()] == ["bdemo00001", "bdemo00002"]
    with pytest.raises(ValueError, match="burst_id"):
        Runtime({}, burst_ids=lambda: "not-a-burst").new_burst_id()
