"""The Kafka producer's partitioner: the Java client's murmur2 choice, remembered per key.

kafka-python's ``DefaultPartitioner`` sorts the topic's partitions, lists the available ones and hashes the key
in pure Python on every record: ~10 µs of the ingest's CPU a trade here. A venue has a few hundred keys
(``venue:symbol``), so each key's partition is computed once per partition count. The choice is the
default one exactly (``murmur2(key) & 0x7fffffff`` modulo the partition count, as the Java client and
librdkafka's ``murmur2_random``), so every producer of a topic puts a symbol on the same partition.
"""

from __future__ import annotations

from typing import Any

from kafka.partitioner.default import DefaultPartitioner, murmur2

MAX_KEYS = 65_536  # forget everything past this many (topic, key, partition count) entries: memory stays bounded


class KeyPartitioner(DefaultPartitioner):
    """``DefaultPartitioner`` with each keyed choice remembered until the topic's partition count changes."""

    def __init__(self) -> None:
        self._chosen: dict[tuple[str, bytes, int], int] = {}

    def partition(self, topic: str, key: Any, serialized_key: bytes | None, value: Any,
                  serialized_value: bytes | None, cluster: Any) -> int:
        partitions = cluster.partitions_for_topic(topic)
        if serialized_key is None or not partitions:  # unkeyed or unknown topic: the default's own answer
            return super().partition(topic, key, serialized_key, value, serialized_value, cluster)
        seen = (topic, serialized_key, len(partitions))
        chosen = self._chosen.get(seen)
        if chosen is None:
            if len(self._chosen) >= MAX_KEYS:
                self._chosen.clear()
            chosen = self._chosen[seen] = sorted(partitions)[(murmur2(serialized_key) & 0x7FFFFFFF) % len(partitions)]
        return chosen
