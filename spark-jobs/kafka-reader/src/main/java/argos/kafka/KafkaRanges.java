package argos.kafka;

import org.apache.spark.sql.connector.read.InputPartition;

/** One read task: offset ranges [from, until) of distinct partitions of one topic. */
record KafkaRanges(String topic, int[] partitions, long[] from, long[] until) implements InputPartition {}
