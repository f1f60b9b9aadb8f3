"""Queue triggers on Azurite with the Functions host's semantics, on worker processes.

What the host does for a ``queueTrigger`` (storage extension 5.x), driven by ``host.json``
``extensions.queues``, and what this runner does the same way:

* fetch up to ``batchSize`` messages at a time and fetch again once the messages in flight drop
  to ``newBatchThreshold``, so at most ``batchSize + newBatchThreshold`` run at once per process;
* a fetched message stays invisible while it runs (here: for ``functionTimeout``, the longest
  an invocation may take);
* success deletes the message; a failure makes it visible again after ``visibilityTimeout``,
  and a failure on the ``maxDequeueCount``-th delivery moves it to ``<queue>-poison`` instead;
* an empty queue is polled again after a back-off that doubles from 100 ms up to
  ``maxPollingInterval``;
* messages are Base64 text (``messageEncoding`` ``base64``), decoded before the function runs.

:func:`start_workers` runs one such consumer per process (``--workers``, default the machine's
cores), each with its own :class:`~bms_local.host.LocalHost`, so items of one burst run in
parallel as they do on several instances.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("bms_local.queues")
REPO_ROOT = Path(__file__).resolve().parent.parent
MIN_POLL_S = 0.1


def _seconds(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueSettings:
    """``host.json`` ``extensions.queues`` (with the host's defaults) and ``functionTimeout``."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval_s: float = 60.0
    visibility_timeout_s: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: str = "base64"
    function_timeout_s: float = 300.0

    @classmethod
    def from_host_json(cls, path: Path = REPO_ROOT / "host.json") -> QueueSettings:
        host = json.loads(path.read_text())
        queues: Mapping[str, Any] = host.get("extensions", {}).get("queues", {})
        batch = int(queues.get("batchSize", 16))
        polling = queues.get("maxPollingInterval", "00:01:00")
        return cls(
            batch_size=batch,
            new_batch_threshold=int(queues.get("newBatchThreshold", batch // 2)),
            max_polling_interval_s=(
                _seconds(polling) if isinstance(polling, str) else float(polling) / 1000
            ),
            visibility_timeout_s=_seconds(queues.get("visibilityTimeout", "00:00:00")),
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            message_encoding=str(queues.get("messageEncoding", "base64")).lower(),
            function_timeout_s=_seconds(host.get("functionTimeout", "00:05:00")),
        )


class QueueConsumer:
    """One process's consumer of one queue: fetch, run, delete / release / poison."""

    def __init__(
        self,
        host: Any,
        function: str,
        queue_client: Any,
        poison_client: Any,
        settings: QueueSettings,
        stop: Any,
    ) -> None:
        self.host = host
        self.function = function
        self.client = queue_client
        self.poison = poison_client
        self.settings = settings
        self.stop = stop
        self._in_flight = 0
        self._lock = threading.Condition()
        self.ran = 0
        self.failed = 0
        self.poisoned = 0

    def run(self) -> None:
        s = self.settings
        pool = ThreadPoolExecutor(s.batch_size + s.new_batch_threshold)
        wait = MIN_POLL_S
        try:
            while not self.stop.is_set():
                with self._lock:
                    while self._in_flight > s.new_batch_threshold and not self.stop.is_set():
                        self._lock.wait(0.5)
                try:
                    messages = list(
                        self.client.receive_messages(
                            max_messages=s.batch_size,
                            visibility_timeout=max(1, int(s.function_timeout_s)),
                        )
                    )
                except Exception as exc:  # the host logs and keeps polling
                    log.warning("%s: receive failed: %s", self.function, exc)
                    messages = []
                if not messages:
                    self.stop.wait(wait)
                    wait = min(wait * 2, s.max_polling_interval_s)
                    continue
                wait = MIN_POLL_S
                with self._lock:
                    self._in_flight += len(messages)
                for message in messages:
                    pool.submit(self._one, message)
        finally:
            pool.shutdown(wait=True)

    def _one(self, message: Any) -> None:
        try:
            body = self._decode(message.content)
            try:
                self.host.queue(
                    self.function,
                    body=body,
                    message_id=message.id,
                    dequeue_count=message.dequeue_count,
                )
                self.host.flush()
            except Exception as exc:
                self.failed += 1
                self._failed(message, exc)
                return
            self.ran += 1
            self.client.delete_message(message)
        except Exception as exc:  # storage trouble: the message reappears after its lease
            log.warning("%s: completing a message failed: %s", self.function, exc)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()

    def _decode(self, content: Any) -> bytes:
        raw = content if isinstance(content, bytes) else str(content).encode()
        return base64.b64decode(raw) if self.settings.message_encoding == "base64" else raw

    def _failed(self, message: Any, exc: BaseException) -> None:
        log.info(
            "%s: message %s failed (try %s): %s",
            self.function,
            message.id,
            message.dequeue_count,
            exc,
        )
        if message.dequeue_count >= self.settings.max_dequeue_count:
            self.poison.send_message(message.content)
            self.client.delete_message(message)
            self.poisoned += 1
        else:
            self.client.update_message(
                message, visibility_timeout=int(self.settings.visibility_timeout_s)
            )


def queue_clients(connection: str, queue: str) -> tuple[Any, Any]:
    """Clients for ``queue`` and its poison queue (both created if absent), raw content."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.queue import QueueClient

    clients = []
    for name in (queue, queue + "-poison"):
        client = QueueClient.from_connection_string(connection, name)
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        clients.append(client)
    return clients[0], clients[1]


def consume(env: Mapping[str, str], stop: Any, settings: QueueSettings | None = None) -> None:
    """Run every queue-triggered function of ``function_app`` until ``stop`` is set."""
    from bms_local.host import LocalHost

    host = LocalHost(env=env)
    settings = settings or QueueSettings.from_host_json()
    connection = env["AzureWebJobsStorage"]
    threads = []
    for queue, function in host.queue_functions().items():
        client, poison = queue_clients(connection, queue)
        consumer = QueueConsumer(host, function, client, poison, settings, stop)
        thread = threading.Thread(target=consumer.run, name=f"queue-{queue}", daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()


def _worker_main(env: dict[str, str], stop: Any, settings: QueueSettings | None) -> None:
    import sys

    os.chdir(REPO_ROOT)
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    consume(env, stop, settings)


class Workers:
    """Queue-trigger worker processes; :meth:`stop` ends them (waiting for running items)."""

    def __init__(self, processes: list[Any], stop: Any) -> None:
        self.processes = processes
        self._stop = stop

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for process in self.processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(5)


def start_workers(
    env: Mapping[str, str], workers: int | None = None, settings: QueueSettings | None = None
) -> Workers:
    """Start ``workers`` processes (default: the machine's cores) consuming the app's queues."""
    count = workers or os.cpu_count() or 1
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    processes = []
    for number in range(count):
        process = context.Process(
            target=_worker_main,
            args=(dict(env), stop, settings),
            name=f"bms-queue-worker-{number}",
            daemon=True,
        )
        process.start()
        processes.append(process)
    return Workers(processes, stop)
