package argos.kafka;

import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.codegen.UnsafeRowWriter;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReader;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;

/**
 * Reads one task's ranges through one consumer assigned to all of their partitions: each poll fetches from every
 * partition still short of its range's end, and a partition is paused once its range is read. Consumers are kept
 * for the next batch, one per concurrent task of a query, and closed after 5 minutes unused.
 */
final class GroupedKafkaReader implements PartitionReader<InternalRow> {
  private record Idle(KafkaConsumer<byte[], byte[]> consumer, long since) {}

  private static final Map<Map<String, String>, Queue<Idle>> IDLE = new ConcurrentHashMap<>();
  private static final long EVICT_NANOS = Duration.ofMinutes(5).toNanos();
  private static final Duration POLL = Duration.ofMillis(100);
  private final Map<String, String> options;
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final Map<Integer, long[]> ranges = new HashMap<>();  // partition -> {from, until}
  private final Set<TopicPartition> unread = new HashSet<>();
  private final long pollTimeoutMs;
  private final UnsafeRowWriter row = new UnsafeRowWriter(GroupedKafkaSource.SCHEMA.size(), 256);
  private Iterator<ConsumerRecord<byte[], byte[]>> fetched = Collections.emptyIterator();
  private boolean reusable;

  /** A consumer for the {@code kafka.*} options, which may override these defaults. */
  private static KafkaConsumer<byte[], byte[]> newConsumer(Map<String, String> options) {
    Properties config = new Properties();
    config.put("enable.auto.commit", "false");
    config.put("auto.offset.reset", "none");  // a range whose records are gone is an error, never a silent skip
    config.put("max.poll.records", "10000");  // a poll returns what one fetch brought from all partitions
    config.putAll(GroupedKafkaSource.kafkaParams(options));
    return new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
  }

  GroupedKafkaReader(Map<String, String> options, KafkaRanges task) {
    this.options = options;
    this.pollTimeoutMs = Long.parseLong(options.getOrDefault("kafkaConsumer.pollTimeoutMs", "120000"));
    Idle idle = IDLE.computeIfAbsent(options, k -> new ConcurrentLinkedQueue<>()).poll();
    this.consumer = idle != null ? idle.consumer() : newConsumer(options);
    for (int i = 0; i < task.partitions().length; i++) {
      ranges.put(task.partitions()[i], new long[] {task.from()[i], task.until()[i]});
      unread.add(new TopicPartition(task.topic(), task.partitions()[i]));
    }
    consumer.assign(unread);
    consumer.resume(consumer.paused());
    unread.forEach(tp -> consumer.seek(tp, ranges.get(tp.partition())[0]));
  }

  private void finish(TopicPartition tp) {
    if (unread.remove(tp)) {
      consumer.pause(List.of(tp));
    }
  }

  @Override
  public boolean next() {
    long idleSince = System.currentTimeMillis();
    while (true) {
      while (fetched.hasNext()) {
        ConsumerRecord<byte[], byte[]> record = fetched.next();
        long[] range = ranges.get(record.partition());
        if (record.offset() < range[0] || record.offset() >= range[1]) {
          continue;
        }
        row.reset();
        row.zeroOutNullBytes();
        if (record.value() == null) {
          row.setNullAt(0);
        } else {
          row.write(0, record.value());
        }
        row.write(1, record.timestamp() * 1000L);  // ms -> Spark's µs
        return true;
      }
      if (unread.isEmpty()) {
        reusable = true;
        return false;
      }
      fetched = poll().iterator();
      boolean progressed = fetched.hasNext();
      // Read up to its range's end: the records before it are out of the consumer (emitted or in `fetched`). By
      // position, not by the last record: a range may end on offsets that hold none (markers, a compacted log).
      for (TopicPartition tp : List.copyOf(unread)) {
        if (consumer.position(tp) >= ranges.get(tp.partition())[1]) {
          finish(tp);
          progressed = true;
        }
      }
      if (progressed) {
        idleSince = System.currentTimeMillis();
      } else if (System.currentTimeMillis() - idleSince > pollTimeoutMs) {
        throw new IllegalStateException("no records from Kafka for " + pollTimeoutMs + " ms; still to read: "
            + unreadRanges());
      }
    }
  }

  private Iterable<ConsumerRecord<byte[], byte[]>> poll() {
    try {
      return consumer.poll(POLL);
    } catch (OffsetOutOfRangeException e) {
      throw new IllegalStateException("records of Kafka were deleted before they were read (retention): "
          + e.offsetOutOfRangePartitions() + " are out of range; still to read: " + unreadRanges()
          + ". Lengthen the topic's retention.ms; to start over, delete the query's checkpoint", e);
    }
  }

  private String unreadRanges() {
    StringBuilder text = new StringBuilder();
    unread.forEach(tp -> {
      long[] range = ranges.get(tp.partition());
      text.append(tp).append(" [").append(range[0]).append(", ").append(range[1]).append(") ");
    });
    return text.toString().trim();
  }

  @Override
  public InternalRow get() {
    return row.getRow();
  }

  @Override
  public void close() {
    if (!reusable) {
      consumer.close(Duration.ZERO);  // failed or stopped mid-range: its position and buffers are not trusted
      return;
    }
    long now = System.nanoTime();
    IDLE.get(options).offer(new Idle(consumer, now));
    for (Queue<Idle> queue : IDLE.values()) {  // a stopped query's consumers; remove() decides who takes one
      for (Idle old : queue) {
        if (now - old.since() > EVICT_NANOS && queue.remove(old)) {
          old.consumer().close(Duration.ZERO);
        }
      }
    }
  }

  static final class Factory implements PartitionReaderFactory {
    private static final long serialVersionUID = 1L;
    private final HashMap<String, String> options;

    Factory(Map<String, String> options) {
      this.options = new HashMap<>(options);
    }

    @Override
    public PartitionReader<InternalRow> createReader(InputPartition partition) {
      return new GroupedKafkaReader(options, (KafkaRanges) partition);
    }
  }
}
