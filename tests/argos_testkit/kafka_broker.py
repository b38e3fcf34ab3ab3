"""A real single-node Apache Kafka broker (KRaft) on a free loopback port, for tests and benchmarks.

The jars come from Maven Central through :mod:`argos_etl.jars`. ``KAFKA_BOOTSTRAP`` in the environment
makes :func:`kafka_bootstrap` use an existing broker instead of starting one.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from argos_etl.jars import kafka_broker_jars
from argos_testkit.ports import free_port

_LOG4J = """<Configuration status="WARN"><Appenders><Console name="c" target="SYSTEM_OUT">
<PatternLayout pattern="[%d] %p %m (%c)%n"/></Console></Appenders>
<Loggers><Root level="WARN"><AppenderRef ref="c"/></Root>
<Logger name="kafka.server.KafkaRaftServer" level="INFO"/></Loggers></Configuration>"""


class KafkaBroker:
    """Start, stop and restart one KRaft broker+controller process."""

    def __init__(self, workdir: Path, partitions: int = 3) -> None:
        self.workdir = workdir
        self.port, self.controller_port = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.partitions = partitions
        self._proc: subprocess.Popen[bytes] | None = None
        self._classpath = os.pathsep.join(str(j) for j in kafka_broker_jars())
        self._config = workdir / "server.properties"
        self._write_config()
        self._java("kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id()}", "-c", str(self._config))

    def _write_config(self) -> None:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.workdir / "logs"),
            "num.partitions": str(self.partitions),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
        }
        self._config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.workdir / "log4j2.xml").write_text(_LOG4J)

    def _java(self, main: str, *args: str) -> None:
        subprocess.run(
            ["java", "-cp", self._classpath, f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.xml'}", main, *args],
            check=True, capture_output=True,
        )

    def start(self, timeout: float = 90) -> None:
        log = open(self.workdir / "broker.log", "ab")  # noqa: SIM115 - owned by the child process
        self._proc = subprocess.Popen(
            ["java", "-Xmx512m", "-XX:+UseSerialGC", f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.xml'}",
             "-cp", self._classpath, "kafka.Kafka", str(self._config)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc and self._proc.poll() is not None:
                raise RuntimeError(f"Kafka broker exited; see {self.workdir / 'broker.log'}")
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
                admin.list_topics()
                admin.close()
                return
            except (KafkaError, OSError):
                time.sleep(0.5)
        raise TimeoutError(f"Kafka broker not ready after {timeout}s; see {self.workdir / 'broker.log'}")

    def stop(self, kill: bool = False) -> None:
        if self._proc and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._proc = None

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


def _cluster_id() -> str:
    """A random KRaft cluster id (base64url of a UUID; may start with '-', hence --cluster-id=)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


@contextlib.contextmanager
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of ``KAFKA_BOOTSTRAP`` if set, else of a fresh broker stopped on exit."""
    if os.environ.get("KAFKA_BOOTSTRAP"):
        yield os.environ["KAFKA_BOOTSTRAP"]
        return
    with running_broker() as broker:
        yield broker.bootstrap


@contextlib.contextmanager
def running_broker() -> Iterator[KafkaBroker]:
    """A fresh broker in a temporary directory, stopped and removed on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="argos-kafka-"))
    broker = KafkaBroker(workdir)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)
