"""The bench's one Spark session is built for every topic the run reads."""

from argos_bench.harness import Bench, Profile
from argos_etl.job import session_conf


def test_the_bench_jvm_pools_a_kafka_consumer_for_each_partition_it_reads(tmp_path) -> None:
    """Spark sizes its Kafka consumer pool once, when the JVM starts: built for 3 partitions (64 consumers), the
    256-partition steps made ~200 consumers anew every micro-batch (docs/benchmarks item 48)."""
    def capacity(profile: Profile) -> str:
        return session_conf(Bench(profile, tmp_path).session_settings())["spark.kafka.consumer.cache.capacity"]

    assert capacity(Profile.full()) == "512"  # twice the scaling step's 256 partitions
    assert capacity(Profile.quick()) == "64"  # 3 partitions: Spark's own 64
