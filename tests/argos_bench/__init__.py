"""``argos bench``: throughput, latency and query figures, each beside a baseline measured in the same run.

- :mod:`argos_bench.suite` runs the measurements on real engines (a local Kafka broker, Spark local,
  the embedded ClickHouse engine) and returns one JSON-able dict;
- :mod:`argos_bench.report` prints the table and writes the JSON, the Markdown report and the plots;
- :mod:`argos_bench.cli` is the typer sub-app (``app``) the main CLI mounts.
"""
