package argos.kafka;

import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;
import org.apache.spark.sql.connector.read.streaming.MicroBatchStream;
import org.apache.spark.sql.connector.read.streaming.Offset;
import org.apache.spark.sql.connector.read.streaming.ReadLimit;
import org.apache.spark.sql.connector.read.streaming.ReadMaxRows;
import org.apache.spark.sql.connector.read.streaming.SupportsAdmissionControl;

/**
 * Plans each micro-batch on the driver: one offset range per partition, capped as Spark's Kafka source caps it (each
 * partition's share of {@code maxOffsetsPerTrigger} in proportion to its backlog); then the ranges, laid end to end,
 * are cut into {@code tasks} runs of equal record counts, so that a busy partition is shared out and hundreds of
 * quiet ones make one task. Partitions and offsets come from Kafka's admin client, as in Spark's source, so a
 * partition added to the topic is read from the next batch on.
 */
final class GroupedKafkaStream implements MicroBatchStream, SupportsAdmissionControl {
  private final Map<String, String> options;
  private final String topic;
  private final long maxRows;
  private final int tasks;
  private Admin admin;  // partitions and their offsets; only the query's thread asks
  private KafkaOffsets latest;

  GroupedKafkaStream(Map<String, String> options) {
    this.options = Map.copyOf(options);
    this.topic = options.getOrDefault("subscribe", "");
    if (topic.isBlank()) {
      throw new IllegalArgumentException("argos-kafka: set option 'subscribe' to the topic to read");
    }
    this.maxRows = Long.parseLong(options.getOrDefault("maxOffsetsPerTrigger", "0"));
    String parallelism = options.get("tasks");
    this.tasks = parallelism != null ? Integer.parseInt(parallelism)
        : SparkSession.active().sparkContext().defaultParallelism();
  }

  /** The {@code kafka.*} options an admin client knows (the consumers' own ones would only be logged as unused). */
  private static Map<String, Object> adminConfig(Map<String, String> options) {
    Map<String, Object> config = GroupedKafkaSource.kafkaParams(options);
    config.keySet().retainAll(AdminClientConfig.configNames());
    return config;
  }

  /** Asks Kafka; a stop (query.stop() interrupts this thread) surfaces as an exception Spark takes for a stop. */
  private <T> T ask(Function<Admin, KafkaFuture<T>> call) {
    if (admin == null) {
      admin = Admin.create(adminConfig(options));
    }
    try {
      return call.apply(admin).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UncheckedIOException(new InterruptedIOException("stopped while asking Kafka for offsets"));
    } catch (ExecutionException e) {
      if (e.getCause() instanceof UnknownTopicOrPartitionException) {
        throw new IllegalStateException("Kafka topic '" + topic + "' does not exist", e.getCause());
      }
      throw new IllegalStateException("could not ask Kafka for the offsets of topic '" + topic + "': "
          + e.getCause().getMessage(), e.getCause());
    }
  }

  private List<TopicPartition> partitions() {
    List<TopicPartition> partitions = new ArrayList<>();
    ask(a -> a.describeTopics(List.of(topic)).allTopicNames()).get(topic).partitions()
        .forEach(info -> partitions.add(new TopicPartition(topic, info.partition())));
    return partitions;
  }

  /** Each partition's earliest or latest offset, in one request per broker. */
  private KafkaOffsets offsets(List<TopicPartition> partitions, OffsetSpec spec) {
    Map<TopicPartition, OffsetSpec> request = new HashMap<>();
    partitions.forEach(tp -> request.put(tp, spec));
    Map<TopicPartition, ListOffsetsResultInfo> found = ask(a -> a.listOffsets(request).all());
    Map<Integer, Long> next = new TreeMap<>();
    found.forEach((tp, info) -> next.put(tp.partition(), info.offset()));
    return new KafkaOffsets(topic, next);
  }

  /** Where each partition's next batch starts: the last batch's end, or the earliest offset of a new partition. */
  private Map<Integer, Long> starts(KafkaOffsets start, KafkaOffsets end) {
    Map<Integer, Long> from = new TreeMap<>(start.next);
    List<TopicPartition> added = new ArrayList<>();
    end.next.keySet().forEach(p -> {
      if (!from.containsKey(p)) {
        added.add(new TopicPartition(topic, p));
      }
    });
    if (!added.isEmpty()) {
      from.putAll(offsets(added, OffsetSpec.earliest()).next);
    }
    return from;
  }

  @Override
  public Offset initialOffset() {
    return offsets(partitions(), OffsetSpec.earliest());
  }

  @Override
  public Offset deserializeOffset(String json) {
    return KafkaOffsets.parse(json);
  }

  @Override
  public ReadLimit getDefaultReadLimit() {
    return maxRows > 0 ? ReadLimit.maxRows(maxRows) : ReadLimit.allAvailable();
  }

  @Override
  public Offset latestOffset() {
    throw new UnsupportedOperationException("argos-kafka plans with latestOffset(start, limit)");
  }

  @Override
  public Offset latestOffset(Offset start, ReadLimit limit) {
    latest = offsets(partitions(), OffsetSpec.latest());
    Map<Integer, Long> from = starts((KafkaOffsets) start, latest);
    Map<Integer, Long> until = new TreeMap<>(latest.next);
    long cap = limit instanceof ReadMaxRows rows ? rows.maxRows() : Long.MAX_VALUE;
    long total = 0;
    for (var e : until.entrySet()) {
      total += Math.max(0, e.getValue() - from.get(e.getKey()));
    }
    if (total > cap) {
      for (var e : until.entrySet()) {
        long begin = from.get(e.getKey());
        double share = (double) cap * Math.max(0, e.getValue() - begin) / total;
        long take = (long) (share < 1 ? Math.ceil(share) : Math.floor(share));
        e.setValue(Math.min(e.getValue(), begin + take));
      }
    }
    return new KafkaOffsets(topic, until);
  }

  @Override
  public Offset reportLatestOffset() {
    return latest;
  }

  @Override
  public InputPartition[] planInputPartitions(Offset start, Offset end) {
    KafkaOffsets until = (KafkaOffsets) end;
    Map<Integer, Long> from = starts((KafkaOffsets) start, until);
    if (!until.next.keySet().containsAll(from.keySet())) {
      throw new IllegalStateException("Kafka topic '" + topic + "' has fewer partitions than " + from.keySet()
          + ": records were lost (was the topic deleted and created again?); to start over, delete the query's "
          + "checkpoint");
    }
    long total = 0;
    for (var e : until.next.entrySet()) {
      long begin = from.get(e.getKey());
      if (e.getValue() < begin) {
        throw new IllegalStateException("partition " + e.getKey() + " of Kafka topic '" + topic + "' went back from "
            + "offset " + begin + " to " + e.getValue() + ": records were lost (was the topic deleted and created "
            + "again?); to start over, delete the query's checkpoint");
      }
      total += e.getValue() - begin;
    }
    List<InputPartition> planned = new ArrayList<>();
    long share = (total + tasks - 1) / Math.max(1, tasks);
    long room = share;
    List<long[]> task = new ArrayList<>();  // {partition, from, until}
    for (var e : until.next.entrySet()) {
      for (long begin = from.get(e.getKey()); begin < e.getValue(); ) {
        long stop = Math.min(e.getValue(), begin + room);
        task.add(new long[] {e.getKey(), begin, stop});
        room -= stop - begin;
        begin = stop;
        if (room == 0) {
          planned.add(ranges(task));
          task = new ArrayList<>();
          room = share;
        }
      }
    }
    if (!task.isEmpty()) {
      planned.add(ranges(task));
    }
    return planned.toArray(new InputPartition[0]);
  }

  private KafkaRanges ranges(List<long[]> task) {
    int n = task.size();
    KafkaRanges ranges = new KafkaRanges(topic, new int[n], new long[n], new long[n]);
    for (int i = 0; i < n; i++) {
      ranges.partitions()[i] = (int) task.get(i)[0];
      ranges.from()[i] = task.get(i)[1];
      ranges.until()[i] = task.get(i)[2];
    }
    return ranges;
  }

  @Override
  public PartitionReaderFactory createReaderFactory() {
    return new GroupedKafkaReader.Factory(options);
  }

  @Override
  public void commit(Offset end) {}

  @Override
  public void stop() {
    if (admin != null) {
      admin.close();
      admin = null;
    }
  }

  @Override
  public String toString() {
    return "argos-kafka[" + topic + "]";
  }
}
