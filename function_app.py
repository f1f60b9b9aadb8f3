"""bms-stream Function App (Python v2 programming model): wiring only, logic lives in ``bms_core``.

Functions
---------
``emit_bookings``   timer ``%BMS_BOOKINGS_SCHEDULE%``: bookings of every slot closed since the
                    last tick -> hub ``BMS_BOOKINGS_HUB``.
``emit_payments``   timer ``%BMS_PAYMENTS_SCHEDULE%``: payments due since the last tick (timer
                    orders and active bursts) -> hub ``BMS_PAYMENTS_HUB``.
``burst``           ``POST /api/burst`` (function key): a burst of orders now, its payments later;
                    one larger than a chunk, or spread over ``over_seconds``, is fanned out
                    through the Storage queue ``bms-burst-chunks``.
``burst_status``    ``GET /api/burst/{burst_id}`` (function key): a fanned-out burst's progress.
``emit_burst_chunk`` queue trigger on ``bms-burst-chunks``: one work item of a fanned-out burst
                    (fan-out step, chunk, or payment window) -> hubs ``BMS_BOOKINGS_HUB`` and
                    ``BMS_PAYMENTS_HUB`` through Event Hubs output bindings.
``burst_chunk_poisoned`` queue trigger on ``bms-burst-chunks-poison``: a work item that failed
                    ``maxDequeueCount`` times is recorded as failed in the burst's progress.
``validate_joined`` Event Hubs trigger on ``%BMS_JOINED_HUB%`` (consumer group
                    ``%BMS_VALIDATOR_CONSUMER_GROUP%``, batches): findings and a summary per
                    batch -> Table storage through output bindings.
``health``          ``GET /api/health`` (anonymous): version and missing settings, 200 or 503.
``reconcile``       timer ``%BMS_RECONCILE_SCHEDULE%`` (hourly): Synapse rows per minute against
                    the generator; a no-op unless ``BMS_SYNAPSE_CONNECTION`` is set.

Why events are sent through ``bms_core.sending`` and not an Event Hubs output binding: the
Python output binding cannot set a partition key, and the partition-aligned join needs each
order's booking and payments on the same partition index of both hubs. The sender routes by
``order_id`` exactly as Event Hubs does, over the same ``EventHubConnection`` setting (a
connection string, or ``EventHubConnection__fullyQualifiedNamespace`` for a managed identity).

Calling a handler outside the host (local runner, tests, benchmarks)
--------------------------------------------------------------------
Each function body is one call into ``bms_core``; call the same thing with real
``azure.functions`` objects::

    from azure.functions.timer import TimerRequest
    from bms_core import bursts, emit, endpoints, reconcile, settings, validator
    from bms_core.sending import MemorySink

    s = settings.Settings.from_env()                    # or settings.current()
    timer = TimerRequest(schedule_status={"Last": "2026-11-29T10:00:00Z"})
    emit.run_emit_bookings(timer, s, sink=MemorySink(), now_ms=...)   # EmitReport
    emit.run_emit_payments(timer, s, sink=MemorySink(), store=..., now_ms=...)
    endpoints.run_burst(func.HttpRequest("POST", "/api/burst", body=b'{"orders": 5}'), s,
                        sink=MemorySink(), store=bursts.ManifestStore(conn))  # HttpResponse
    endpoints.run_health(func.HttpRequest("GET", "/api/health", body=b""))
    validator.run_validate_joined(events, findings_out, summary_out, s)  # func.Out collectors
    reconcile.run_reconcile(timer, summary_out, s)

or wrap them all at once with ``emit.use_sink(...)`` / ``bursts.use_store(...)`` /
``bms_core.clock.use_clock(...)`` and call the decorated functions below directly (the v2
``Function`` objects are callable), which is what ``bms_local.host.LocalHost`` does.

host.json choices
-----------------
* ``maxEventBatchSize`` 256 / ``prefetchCount`` 512: the validator handles a few hundred rows in
  well under a second; prefetch at twice the batch keeps the next batch ready.
* ``batchCheckpointFrequency`` 1: checkpoint after every batch, so a restart re-delivers at most
  one batch (the validator tolerates re-delivery: findings carry the invocation id).
* ``initialOffsetOptions`` ``fromEnd``: a new validator consumer group starts with new rows
  instead of replaying the hub's retention.
* Logging: our own ``Function`` logs at Information, the host's at Warning; Application
  Insights sampling caps telemetry at 20 items/s but never samples requests or exceptions.
* Retries: the emitting timers retry twice after 3 s (a resent tick only duplicates events
  with the same ids); the validator backs off from 5 s to 1 min, up to 5 times, on storage or
  Event Hubs errors (bad data never raises). HTTP functions have no retry policy in Python.
* ``functionTimeout`` 2 minutes: every function finishes in seconds; a hang is cut short
  instead of blocking the next timer tick.
* ``queues`` (the burst queue): ``batchSize`` 4 and ``newBatchThreshold`` 2 keep at most six
  work items (each up to ``BMS_BURST_CHUNK_ORDERS`` orders, a few seconds of one core) in flight
  per instance, so a large burst spreads over instances instead of queueing inside one;
  ``maxPollingInterval`` 2 s bounds how late an item runs after it becomes visible (the default
  backs off to a minute); ``visibilityTimeout`` 10 s between retries of a failed item, and
  ``maxDequeueCount`` 5 tries before the host moves it to ``bms-burst-chunks-poison``;
  ``messageEncoding`` ``base64``, what the app's queue client writes.
"""

import typing

import azure.functions as func

from bms_core import names
from bms_core import settings as bms_settings

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

STORAGE = names.STORAGE_CONNECTION_SETTING


def _setting(name: str) -> str:
    """A binding expression the host resolves from app settings."""
    return f"%{name}%"


@app.function_name("emit_bookings")
@app.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:00:03")
@app.timer_trigger(
    arg_name="timer",
    schedule=_setting(bms_settings.BOOKINGS_SCHEDULE),
    run_on_startup=False,
    use_monitor=True,
)
def emit_bookings(timer: func.TimerRequest) -> None:
    from bms_core import emit

    emit.run_emit_bookings(timer, bms_settings.current())


@app.function_name("emit_payments")
@app.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:00:03")
@app.timer_trigger(
    arg_name="timer",
    schedule=_setting(bms_settings.PAYMENTS_SCHEDULE),
    run_on_startup=False,
    use_monitor=True,
)
def emit_payments(timer: func.TimerRequest) -> None:
    from bms_core import emit

    emit.run_emit_payments(timer, bms_settings.current())


@app.function_name("burst")
@app.route(
    route="burst",
    # POST does the work; the others are routed here only so that a wrong method is answered
    # 405 with "Allow: POST" by the handler (the host would answer an unrouted method 404).
    methods=[
        func.HttpMethod.POST,
        func.HttpMethod.GET,
        func.HttpMethod.PUT,
        func.HttpMethod.PATCH,
        func.HttpMethod.DELETE,
    ],
    auth_level=func.AuthLevel.FUNCTION,
)
def burst(req: func.HttpRequest) -> func.HttpResponse:
    from bms_core import endpoints

    response: func.HttpResponse = endpoints.run_burst(req)
    return response


@app.function_name("burst_status")
@app.route(
    route="burst/{burst_id}", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.FUNCTION
)
def burst_status(req: func.HttpRequest) -> func.HttpResponse:
    from bms_core import endpoints

    response: func.HttpResponse = endpoints.run_burst_status(req)
    return response


@app.function_name("emit_burst_chunk")
@app.queue_trigger(arg_name="item", queue_name=names.BURST_QUEUE, connection=STORAGE)
@app.event_hub_output(
    arg_name="bookings",
    event_hub_name=_setting(bms_settings.BOOKINGS_HUB),
    connection=names.EVENTHUB_CONNECTION_SETTING,
)
@app.event_hub_output(
    arg_name="payments",
    event_hub_name=_setting(bms_settings.PAYMENTS_HUB),
    connection=names.EVENTHUB_CONNECTION_SETTING,
)
def emit_burst_chunk(
    item: func.QueueMessage,
    bookings: func.Out[typing.List[str]],
    payments: func.Out[typing.List[str]],
) -> None:
    from bms_core import clock, flash

    settings = bms_settings.current()
    storage = settings.require_storage()
    result = flash.run_work_item(
        item.get_body(),
        settings.scenario,
        queue=flash.work_queue(storage),
        progress=flash.progress_store(storage),
        now_ms=clock.now_ms(),
    )
    if result.bookings:
        bookings.set(result.bookings)
    if result.payments:
        payments.set(result.payments)


@app.function_name("burst_chunk_poisoned")
@app.queue_trigger(arg_name="item", queue_name=names.BURST_POISON_QUEUE, connection=STORAGE)
def burst_chunk_poisoned(item: func.QueueMessage) -> None:
    from bms_core import flash

    storage = bms_settings.current().require_storage()
    flash.record_poisoned(item.get_body(), progress=flash.progress_store(storage))


@app.function_name("validate_joined")
@app.retry(
    strategy="exponential_backoff",
    max_retry_count="5",
    minimum_interval="00:00:05",
    maximum_interval="00:01:00",
)
@app.event_hub_message_trigger(
    arg_name="events",
    event_hub_name=_setting(bms_settings.JOINED_HUB),
    connection=names.EVENTHUB_CONNECTION_SETTING,
    cardinality=func.Cardinality.MANY,
    consumer_group=_setting(bms_settings.VALIDATOR_CONSUMER_GROUP),
)
@app.table_output(arg_name="findings", connection=STORAGE, table_name=names.FINDINGS_TABLE)
@app.table_output(arg_name="summary", connection=STORAGE, table_name=names.VALIDATION_SUMMARY_TABLE)
def validate_joined(
    events: typing.List[func.EventHubEvent],
    findings: func.Out[str],
    summary: func.Out[str],
) -> None:
    from bms_core import validator

    validator.run_validate_joined(events, findings, summary, bms_settings.current())


@app.function_name("health")
@app.route(route="health", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    from bms_core import endpoints

    response: func.HttpResponse = endpoints.run_health(req)
    return response


@app.function_name("reconcile")
@app.timer_trigger(
    arg_name="timer",
    schedule=_setting(bms_settings.RECONCILE_SCHEDULE),
    run_on_startup=False,
    use_monitor=True,
)
@app.table_output(arg_name="summary", connection=STORAGE, table_name=names.RECONCILE_TABLE)
def reconcile(timer: func.TimerRequest, summary: func.Out[str]) -> None:
    from bms_core import reconcile as reconcile_module

    reconcile_module.run_reconcile(timer, summary, bms_settings.current())
