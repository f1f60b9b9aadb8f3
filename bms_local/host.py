"""An in-process stand-in for the Functions host: index ``function_app`` and invoke its handlers.

Where Azure Functions Core Tools are not installed (and on this project's CI, where they cannot
be), this is how the real handlers run locally. It does what the host does for the bindings the
app uses, driven by the same binding metadata the Python worker reports at indexing time:

* settings: ``%NAME%`` expressions resolved from the environment, as the host does;
* triggers: ``timerTrigger`` gets an ``azure.functions.TimerRequest`` with ``ScheduleStatus``;
  ``httpTrigger`` an ``HttpRequest`` (auth level is not enforced, as under ``func start``);
  ``eventHubTrigger`` a list of ``EventHubEvent`` (cardinality many) or one event;
  ``queueTrigger`` a ``QueueMessage`` (polling, retries and the poison queue live in
  :mod:`bms_local.queues`); route templates (``burst/{burst_id}``) fill ``route_params``;
* outputs: ``table`` values (a JSON entity or array of entities) are upserted into Table storage
  (Azurite) through the connection setting; ``eventHub`` values are sent as the host sends them
  (:func:`event_bodies`, :meth:`LocalHost.send_eventhub`); ``$return`` of an HTTP function is
  the response. An output that cannot be written fails the invocation (with
  ``background_outputs``, the next :meth:`LocalHost.flush`).
* dependencies: every invocation runs inside the host's :class:`bms_core.functions.runtime.Runtime`
  (built once: settings from the host's environment, the wall clock unless given another).

It is a mock of the host only: handlers, SDKs, Azurite and the emulator are the real ones.
"""

from __future__ import annotations

import importlib
import json
import os
import queue
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions.timer import TimerRequest

from bms_core.functions import runtime as _runtime_module
from bms_core.timefmt import format_ms

_SETTING = re.compile(r"%([A-Za-z0-9_]+)%")


class Out(func.Out):  # type: ignore[type-arg]
    """The collector the host passes for an output binding."""

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, val: Any) -> None:
        self.value = val

    def get(self) -> Any:
        return self.value


@dataclass
class Invocation:
    """What one call produced: the return value and each output binding's value."""

    function: str
    result: Any
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class FunctionEntry:
    name: str
    user_function: Callable[..., Any]
    trigger: dict[str, Any]
    outputs: list[dict[str, Any]]


def resolve(expression: str, env: Mapping[str, str]) -> str:
    """Replace each ``%NAME%`` with the setting's value; a missing setting is named."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise KeyError(f"app setting '{name}' (used as %{name}% in a binding) is not set")
        return env[name]

    return _SETTING.sub(sub, expression)


_indexed: dict[str, dict[str, FunctionEntry]] = {}


def index_functions(module: str = "function_app") -> dict[str, FunctionEntry]:
    """Index ``module.app`` once per process, as the worker does (the library refuses twice)."""
    if module not in _indexed:
        app = importlib.import_module(module).app
        functions: dict[str, FunctionEntry] = {}
        # get_functions() registers names and refuses a second call in one process (the
        # worker calls it once); the tests index the same app too, so start a fresh registry.
        registered, app.functions_bindings = app.functions_bindings, None
        try:
            indexed = app.get_functions()
        finally:
            app.functions_bindings = registered
        for function in indexed:
            # The binding JSON the worker reports to the host at indexing time.
            bindings = [json.loads(raw) for raw in function.get_raw_bindings()]
            trigger = next(b for b in bindings if b["type"].endswith("Trigger"))
            outputs = [b for b in bindings if b["direction"] == "OUT" and b["name"] != "$return"]
            name = function.get_function_name()
            functions[name] = FunctionEntry(name, function.get_user_function(), trigger, outputs)
        _indexed[module] = functions
    return _indexed[module]


class LocalHost:
    """Index ``function_app`` once; invoke functions by name and deliver their outputs."""

    def __init__(
        self,
        *,
        module: str = "function_app",
        env: Mapping[str, str] | None = None,
        deliver: Callable[[str, dict[str, Any], Any], None] | None = None,
        background_outputs: bool = False,
        runtime: _runtime_module.Runtime | None = None,
    ) -> None:
        self.env = env if env is not None else os.environ
        self.runtime = runtime or _runtime_module.Runtime(self.env)
        self._producers: dict[tuple[str, str], Any] = {}
        self._producers_lock = threading.Lock()
        self._deliver = deliver or self._deliver_output
        self._outbox: queue.Queue[tuple[str, dict[str, Any], Any] | None] | None = None
        self._outbox_errors: list[BaseException] = []
        if background_outputs:
            # Output bindings complete after the function returns, off the invocation path.
            self._outbox = queue.Queue()
            self._writer = threading.Thread(target=self._drain_outbox, daemon=True)
            self._writer.start()
        self.functions = index_functions(module)
        self._tables: dict[tuple[str, str], Any] = {}

    # --- triggers ---------------------------------------------------------------------------
    def timer(
        self, name: str, *, last_ms: int | None, next_ms: int, past_due: bool = False
    ) -> Invocation:
        """Fire a timer function as the host does, with its schedule status."""
        status = {
            "Last": format_ms(last_ms) if last_ms is not None else None,
            "Next": format_ms(next_ms),
            "LastUpdated": format_ms(last_ms) if last_ms is not None else None,
        }
        request = TimerRequest(past_due=past_due, schedule_status=status)
        return self._invoke(name, request)

    def http(
        self,
        name: str,
        *,
        method: str,
        body: bytes = b"",
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        route_params: Mapping[str, str] | None = None,
    ) -> Invocation:
        entry = self.functions[name]
        route = entry.trigger.get("route") or name
        for key, value in (route_params or {}).items():
            route = route.replace("{" + key + "}", value)
        request = func.HttpRequest(
            method=method.upper(),
            url=f"http://localhost/api/{route}",
            headers=dict(headers or {}),
            params=dict(params or {}),
            route_params=dict(route_params or {}),
            body=body,
        )
        return self._invoke(name, request)

    def queue(
        self, name: str, *, body: bytes, message_id: str = "", dequeue_count: int = 1
    ) -> Invocation:
        """Run a queue-triggered function on one message (already Base64-decoded)."""
        from azure.functions.queue import QueueMessage

        message = QueueMessage(id=message_id, body=body, dequeue_count=dequeue_count)
        return self._invoke(name, message)

    def queue_functions(self) -> dict[str, str]:
        """``queue name -> function`` for every queue-triggered function."""
        return {
            self.setting(entry.trigger["queueName"]): entry.name
            for entry in self.functions.values()
            if entry.trigger["type"] == "queueTrigger"
        }

    def match_route(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The function serving ``/api/<path>`` and its route parameters, as the host routes
        (a literal route wins over a template)."""
        found: tuple[str, dict[str, str]] | None = None
        for entry in self.functions.values():
            if entry.trigger["type"] != "httpTrigger":
                continue
            template = (entry.trigger.get("route") or entry.name).strip("/")
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            match = re.fullmatch(pattern, path.strip("/"))
            if match is None:
                continue
            if "{" not in template:
                return entry.name, {}
            found = found or (entry.name, match.groupdict())
        return found

    def eventhub(self, name: str, events: Iterable[func.EventHubEvent]) -> Invocation:
        entry = self.functions[name]
        batch = list(events)
        many = str(entry.trigger.get("cardinality", "one")).lower() == "many"
        argument: Any = batch if many else batch[0]
        return self._invoke(name, argument)

    def setting(self, expression: str) -> str:
        return resolve(expression, self.env)

    def eventhub_events(self, invocation: Invocation) -> dict[str, list[bytes]]:
        """The events each Event Hubs output of ``invocation`` carries, by resolved hub name."""
        out: dict[str, list[bytes]] = {}
        for binding in self.functions[invocation.function].outputs:
            value = invocation.outputs.get(binding["name"])
            if binding["type"] == "eventHub" and value is not None:
                hub = resolve(binding["eventHubName"], self.env)
                out.setdefault(hub, []).extend(event_bodies(value))
        return out

    # --- invocation -------------------------------------------------------------------------
    def _invoke(self, name: str, trigger_value: Any) -> Invocation:
        entry = self.functions[name]
        kwargs: dict[str, Any] = {entry.trigger["name"]: trigger_value}
        collectors = {b["name"]: Out() for b in entry.outputs}
        kwargs.update(collectors)
        with _runtime_module.running(self.runtime):
            result = entry.user_function(**kwargs)
        invocation = Invocation(name, result)
        for binding in entry.outputs:
            value = collectors[binding["name"]].get()
            invocation.outputs[binding["name"]] = value
            if value is not None:
                if self._outbox is not None:
                    self._outbox.put((name, binding, value))
                else:
                    self._deliver(name, binding, value)
        return invocation

    def _drain_outbox(self) -> None:
        assert self._outbox is not None
        while True:
            item = self._outbox.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            except BaseException as exc:  # surfaced by flush()
                self._outbox_errors.append(exc)
            finally:
                self._outbox.task_done()

    def flush(self) -> None:
        """Wait until every output binding value has been delivered; raise the first failure
        since the last flush. A failure is raised once: the next invocation starts clean, as
        under the host, where a failed output fails only its own invocation."""
        if self._outbox is not None:
            self._outbox.join()
        if self._outbox_errors:
            errors = self._outbox_errors[:]
            del self._outbox_errors[: len(errors)]
            raise errors[0]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._outbox is not None:
                self._outbox.put(None)
                self._writer.join(timeout=10)
            with self._producers_lock:
                producers, self._producers = list(self._producers.values()), {}
            for producer in producers:
                producer.close()

    def _deliver_output(self, function: str, binding: dict[str, Any], value: Any) -> None:
        if binding["type"] == "table":
            self._write_table(binding, value)
        elif binding["type"] == "eventHub":
            self.send_eventhub(binding, value)
        else:
            raise NotImplementedError(f"{function}: output binding type {binding['type']!r}")

    def _write_table(self, binding: dict[str, Any], value: Any) -> None:
        from azure.data.tables import TableServiceClient

        table = resolve(binding["tableName"], self.env)
        connection = self.env[binding.get("connection") or "AzureWebJobsStorage"]
        key = (connection, table)
        client = self._tables.get(key)
        if client is None:
            service = TableServiceClient.from_connection_string(connection)
            client = service.create_table_if_not_exists(table)
            self._tables[key] = client
        entities = json.loads(value) if isinstance(value, (str, bytes)) else value
        if isinstance(entities, dict):
            entities = [entities]
        by_partition: dict[str, list[dict[str, Any]]] = {}
        for entity in entities:
            if isinstance(entity, (str, bytes)):
                entity = json.loads(entity)
            by_partition.setdefault(str(entity["PartitionKey"]), []).append(entity)
        # Entity group transactions: up to 100 upserts of one PartitionKey per request.
        for group in by_partition.values():
            for start in range(0, len(group), 100):
                client.submit_transaction([("upsert", e) for e in group[start : start + 100]])

    def _producer(self, connection: str, hub: str) -> Any:
        """One SDK producer per connection and hub, kept for the host's life (as the host does)."""
        from azure.eventhub import EventHubProducerClient

        with self._producers_lock:
            producer = self._producers.get((connection, hub))
            if producer is None:
                producer = EventHubProducerClient.from_connection_string(
                    connection, eventhub_name=hub
                )
                self._producers[(connection, hub)] = producer
            return producer

    def send_eventhub(self, binding: dict[str, Any], value: Any) -> None:
        """Keyless batches of up to the link's message size (1 MB), as the host's collector.

        Each batch goes without partition key or id, so Event Hubs (or the emulator) places it
        whole on one partition; an event too large for an empty batch fails the output.
        """
        from azure.eventhub import EventData

        hub = resolve(binding["eventHubName"], self.env)
        connection = self.env[binding["connection"]]
        bodies = event_bodies(value)
        if not bodies:
            return
        producer = self._producer(connection, hub)
        batch = producer.create_batch()
        for body in bodies:
            data = EventData(body)
            try:
                batch.add(data)
            except ValueError:
                if len(batch) == 0:
                    raise ValueError(
                        f"event of {len(body)} bytes is larger than a batch to '{hub}' allows "
                        f"({batch.max_size_in_bytes} bytes)"
                    ) from None
                producer.send_batch(batch)
                batch = producer.create_batch()
                batch.add(data)
        producer.send_batch(batch)


def event_bodies(value: Any) -> list[bytes]:
    """The events an Event Hubs output value becomes, read the way the Functions host reads it.

    The value goes through the ``azure.functions`` library's own converter, as in the Python
    worker: a list becomes a JSON array, a string stays a string, bytes stay bytes. The host then
    sends one event per element of a JSON array (a string element as its text, any other as its
    JSON), one event for a JSON object string, and one for any other string or bytes; a string
    shaped like JSON that does not parse fails the invocation.
    """
    converter = meta.get_binding_registry().get("eventHub")
    datum = converter.encode(value, expected_type=None)
    if datum.type == "bytes":
        return [bytes(datum.value)]
    if datum.type not in ("string", "json"):
        raise TypeError(f"an Event Hubs output cannot take a {type(value).__name__}")
    text = str(datum.value)
    stripped = text.strip()
    if (stripped.startswith("[") and stripped.endswith("]")) or (
        stripped.startswith("{") and stripped.endswith("}")
    ):
        parsed = json.loads(stripped)  # the host fails the invocation on JSON it cannot parse
        items = parsed if isinstance(parsed, list) else [parsed]
        return [(item if isinstance(item, str) else json.dumps(item)).encode() for item in items]
    return [text.encode()]
