package argos.kafka;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.spark.sql.connector.read.streaming.Offset;

/** The next offset to read of every partition of one topic, as JSON the way Spark's Kafka source writes it. */
final class KafkaOffsets extends Offset {
  private static final ObjectMapper JSON = new ObjectMapper();
  final String topic;
  final SortedMap<Integer, Long> next;

  KafkaOffsets(String topic, Map<Integer, Long> next) {
    this.topic = topic;
    this.next = Collections.unmodifiableSortedMap(new TreeMap<>(next));
  }

  /** Parses {@code {"topic":{"0":12,"1":7}}}. */
  static KafkaOffsets parse(String json) {
    Map<String, Map<Integer, Long>> topics;
    try {
      topics = JSON.readValue(json, new TypeReference<>() {});
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not Kafka offsets: " + json, e);
    }
    if (topics.size() != 1) {
      throw new IllegalArgumentException("offsets of one topic expected, got " + json);
    }
    Map.Entry<String, Map<Integer, Long>> only = topics.entrySet().iterator().next();
    return new KafkaOffsets(only.getKey(), only.getValue());
  }

  @Override
  public String json() {
    Map<String, Long> byPartition = new LinkedHashMap<>();
    next.forEach((partition, offset) -> byPartition.put(partition.toString(), offset));
    try {
      return JSON.writeValueAsString(Map.of(topic, byPartition));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
