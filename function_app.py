"""bms-stream Function App (Python v2 programming model): wiring only, logic lives in ``bms_core``.

Functions
---------
``emit_bookings``   timer ``%BMS_BOOKINGS_SCHEDULE%``: bookings of every slot closed since the
                    last tick -> Event Hubs output ``bookings`` on hub ``%BMS_BOOKINGS_HUB%``.
``emit_payments``   timer ``%BMS_PAYMENTS_SCHEDULE%``: payments due since the last tick (timer
                    orders and active bursts) -> Event Hubs output ``payments`` on
                    ``%BMS_PAYMENTS_HUB%``.
``burst``           ``POST /api/burst`` (function key): a burst of orders now -> ``bookings``;
                    its payments already due -> ``payments``; later ones follow from its
                    manifest through ``emit_payments``. A burst larger than one chunk
                    (``BMS_BURST_CHUNK_ORDERS``) or spread over ``over_seconds`` is fanned out
                    instead: stored, and its work items put on the Storage queue
                    ``bms-burst-chunks``; both outputs then stay unset.
``burst_status``    ``GET /api/burst/{burst_id}`` (function key): a fanned-out burst's progress.
``emit_burst_chunk`` queue trigger on ``bms-burst-chunks``: one work item of a fanned-out burst
                    (fan-out step, chunk, or payment window) -> ``bookings`` and ``payments``.
``burst_chunk_poisoned`` queue trigger on ``bms-burst-chunks-poison``: a work item that failed
                    ``maxDequeueCount`` times is recorded as failed in the burst's progress.
``validate_joined`` Event Hubs trigger on ``%BMS_JOINED_HUB%`` (consumer group
                    ``%BMS_VALIDATOR_CONSUMER_GROUP%``, batches): findings and a summary per
                    batch -> Table storage through output bindings.
``health``          ``GET /api/health`` (anonymous): version and missing settings, 200 or 503.
``reconcile``       timer ``%BMS_RECONCILE_SCHEDULE%`` (hourly): Synapse rows per minute against
                    the generator; a no-op unless ``BMS_SYNAPSE_CONNECTION`` is set.

Event Hubs outputs
------------------
Each is ``func.Out[typing.List[str]]``, set to a list of JSON bodies. The Python library hands
the host the list as a JSON array; the host sends one event per element, without a partition
key, in batches of up to the hub's message size (1 MB on Standard and Premium), and the service
places each batch whole on one partition. So an order's booking and payments may sit on any
partitions; the Stream Analytics join matches ``order_id`` across partitions. The host's own
Event Hubs client authenticates with the ``EventHubConnection`` setting: a connection string,
or ``EventHubConnection__fullyQualifiedNamespace`` for the app's managed identity, which needs
the *Azure Event Hubs Data Sender* role. A tick whose output cannot be written fails, and
``@app.retry`` runs it again; the rerun regenerates the same events with the same ids.

Calling a handler outside the host (local runner, tests, benchmarks)
--------------------------------------------------------------------
Each function body is one call into ``bms_core``; call the same thing with real
``azure.functions`` objects, and as outputs any ``func.Out`` that keeps what is set::

    from azure.functions.timer import TimerRequest
    from bms_core.functions import bursts, routes, settings, timers
    from bms_core.synapse import reconcile
    from bms_core.joined import validator

    class Out(func.Out):
        def set(self, val): self.value = val
        def get(self): return self.value

    s = settings.Settings.from_env()
    timer = TimerRequest(schedule_status={"Last": "2026-11-29T10:00:00Z"})
    bookings = Out()
    timers.run_emit_bookings(timer, bookings, settings=s, now_ms=...)  # bookings.value: bodies
    timers.run_emit_payments(timer, Out(), settings=s, manifests=..., now_ms=...)
    routes.run_burst(func.HttpRequest("POST", "/api/burst", body=b'{"orders": 5}'),
                     Out(), Out(), settings=s, manifests=bursts.ManifestStore(conn))
    routes.run_health(func.HttpRequest("GET", "/api/health", body=b""))
    validator.run_validate_joined(events, Out(), Out(), s)
    reconcile.run_reconcile(timer, Out(), s)

Parameters left out default to the running ``bms_core.functions.runtime`` (this process's
settings, the wall clock, manifests on ``AzureWebJobsStorage``). The local runner calls the
decorated functions below (the v2 ``Function`` objects are callable) inside its own runtime and
writes their outputs as the host does.

host.json choices
-----------------
* The Event Hubs outputs need no settings here: the host's own Event Hubs client retries
  transient send errors, and a send that still fails fails the invocation, which
  ``@app.retry`` reruns.
* ``maxEventBatchSize`` 256 / ``prefetchCount`` 512: the validator handles a few hundred rows in
  well under a second; prefetch at twice the batch keeps the next batch ready.
* ``batchCheckpointFrequency`` 1: checkpoint after every batch, so a restart re-delivers at most
  one batch (the validator tolerates re-delivery: findings carry the invocation id).
* ``initialOffsetOptions`` ``fromEnd``: a new validator consumer group starts with new rows
  instead of replaying the hub's retention.
* Logging: our own ``Function`` logs at Information, the host's at Warning; Application
  Insights sampling caps telemetry at 20 items/s but never samples requests or exceptions.
* Retries: the emitting timers retry twice after 3 s when a tick or its output fails (a rerun
  tick only duplicates events with the same ids); the validator backs off from 5 s to 1 min, up
  to 5 times, on storage or Event Hubs errors (bad data never raises). HTTP functions have no
  retry policy in Python: a burst whose output fails answers 500 and the client retries.
* ``functionTimeout`` 2 minutes: every function finishes in seconds; a hang is cut short
  instead of blocking the next timer tick.
* ``queues`` (the burst queue): ``batchSize`` 4 and ``newBatchThreshold`` 2 keep at most six
  work items (each up to ``BMS_BURST_CHUNK_ORDERS`` orders, under a second of one core) in
  flight per instance, so a large burst spreads over instances instead of queueing inside one;
  ``maxPollingInterval`` 2 s bounds how late an item runs after it becomes visible (the default
  backs off to a minute); ``visibilityTimeout`` 10 s between retries of a failed item, and
  ``maxDequeueCount`` 5 tries before the host moves it to ``bms-burst-chunks-poison``;
  ``messageEncoding`` ``base64``, what the app's queue client writes.
"""

import typing

import azure.functions as func

from bms_core import names
from bms_core.functions import settings as bms_settings

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

STORAGE = names.STORAGE_CONNECTION_SETTING
EVENTHUB = names.EVENTHUB_CONNECTION_SETTING


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
@app.event_hub_output(
    arg_name="bookings",
    event_hub_name=_setting(bms_settings.BOOKINGS_HUB),
    connection=EVENTHUB,
)
def emit_bookings(timer: func.TimerRequest, bookings: func.Out[typing.List[str]]) -> None:
    from bms_core.functions import timers

    timers.run_emit_bookings(timer, bookings)


@app.function_name("emit_payments")
@app.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:00:03")
@app.timer_trigger(
    arg_name="timer",
    schedule=_setting(bms_settings.PAYMENTS_SCHEDULE),
    run_on_startup=False,
    use_monitor=True,
)
@app.event_hub_output(
    arg_name="payments",
    event_hub_name=_setting(bms_settings.PAYMENTS_HUB),
    connection=EVENTHUB,
)
def emit_payments(timer: func.TimerRequest, payments: func.Out[typing.List[str]]) -> None:
    from bms_core.functions import timers

    timers.run_emit_payments(timer, payments)


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
@app.event_hub_output(
    arg_name="bookings",
    event_hub_name=_setting(bms_settings.BOOKINGS_HUB),
    connection=EVENTHUB,
)
@app.event_hub_output(
    arg_name="payments",
    event_hub_name=_setting(bms_settings.PAYMENTS_HUB),
    connection=EVENTHUB,
)
def burst(
    req: func.HttpRequest,
    bookings: func.Out[typing.List[str]],
    payments: func.Out[typing.List[str]],
) -> func.HttpResponse:
    from bms_core.functions import routes

    response: func.HttpResponse = routes.run_burst(req, bookings, payments)
    return response


@app.function_name("burst_status")
@app.route(
    route="burst/{burst_id}", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.FUNCTION
)
def burst_status(req: func.HttpRequest) -> func.HttpResponse:
    from bms_core.functions import routes

    response: func.HttpResponse = routes.run_burst_status(req)
    return response


@app.function_name("emit_burst_chunk")
@app.queue_trigger(arg_name="item", queue_name=names.BURST_QUEUE, connection=STORAGE)
@app.event_hub_output(
    arg_name="bookings",
    event_hub_name=_setting(bms_settings.BOOKINGS_HUB),
    connection=EVENTHUB,
)
@app.event_hub_output(
    arg_name="payments",
    event_hub_name=_setting(bms_settings.PAYMENTS_HUB),
    connection=EVENTHUB,
)
def emit_burst_chunk(
    item: func.QueueMessage,
    bookings: func.Out[typing.List[str]],
    payments: func.Out[typing.List[str]],
) -> None:
    from bms_core import flash

    flash.run_emit_burst_chunk(item, bookings, payments)


@app.function_name("burst_chunk_poisoned")
@app.queue_trigger(arg_name="item", queue_name=names.BURST_POISON_QUEUE, connection=STORAGE)
def burst_chunk_poisoned(item: func.QueueMessage) -> None:
    from bms_core import flash

    flash.run_burst_chunk_poisoned(item)


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
    connection=EVENTHUB,
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
    from bms_core.joined import validator

    validator.run_validate_joined(events, findings, summary, bms_settings.current())


@app.function_name("health")
@app.route(route="health", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    from bms_core.functions import routes

    response: func.HttpResponse = routes.run_health(req)
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
    from bms_core.synapse import reconcile as reconcile_module

    reconcile_module.run_reconcile(timer, summary, bms_settings.current())
