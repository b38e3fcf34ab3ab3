package argos.kafka;

import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.connector.catalog.SupportsRead;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableCapability;
import org.apache.spark.sql.connector.catalog.TableProvider;
import org.apache.spark.sql.connector.expressions.Transform;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.connector.read.streaming.MicroBatchStream;
import org.apache.spark.sql.sources.DataSourceRegister;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * {@code spark.readStream.format("argos-kafka")}: one Kafka topic as a micro-batch stream whose read tasks each
 * serve many partitions through one consumer (Spark's own Kafka source gives every partition a reader of its own).
 *
 * <p>Options: {@code subscribe} (the topic), {@code maxOffsetsPerTrigger}, {@code tasks} (read tasks per batch;
 * default: Spark's default parallelism), {@code kafkaConsumer.pollTimeoutMs}, and {@code kafka.*} for the
 * consumers. Rows: {@code value} (binary) and {@code timestamp}. A query starts at the earliest offsets, and
 * offsets are checkpointed in the JSON of Spark's Kafka source, so a checkpoint carries over between the two.
 */
public final class GroupedKafkaSource implements TableProvider, DataSourceRegister {
  static final StructType SCHEMA = new StructType()
      .add("value", DataTypes.BinaryType, true)
      .add("timestamp", DataTypes.TimestampType, false);

  /** The {@code kafka.*} options without their prefix: the Kafka clients' own configuration. */
  static Map<String, Object> kafkaParams(Map<String, String> options) {
    Map<String, Object> params = new HashMap<>();
    options.forEach((key, value) -> {
      if (key.startsWith("kafka.")) {
        params.put(key.substring("kafka.".length()), value);
      }
    });
    return params;
  }

  @Override
  public String shortName() {
    return "argos-kafka";
  }

  @Override
  public StructType inferSchema(CaseInsensitiveStringMap options) {
    return SCHEMA;
  }

  @Override
  public Table getTable(StructType schema, Transform[] partitioning, Map<String, String> properties) {
    return new KafkaTable();
  }

  private static final class KafkaTable implements Table, SupportsRead {
    @Override
    public String name() {
      return "argos-kafka";
    }

    @Override
    @SuppressWarnings("deprecation")  // Table.schema(): still what a read-only table declares in Spark 4.2
    public StructType schema() {
      return SCHEMA;
    }

    @Override
    public Set<TableCapability> capabilities() {
      return EnumSet.of(TableCapability.MICRO_BATCH_READ);
    }

    @Override
    public ScanBuilder newScanBuilder(CaseInsensitiveStringMap options) {
      return () -> new Scan() {
        @Override
        public StructType readSchema() {
          return SCHEMA;
        }

        @Override
        public MicroBatchStream toMicroBatchStream(String checkpointLocation) {
          return new GroupedKafkaStream(options.asCaseSensitiveMap());
        }
      };
    }
  }
}
