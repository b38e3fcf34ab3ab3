#!/usr/bin/env bash
# Entrypoint of the argos-spark image, for Spark on Kubernetes (what the spark-operator's spark-submit asks of
# an image): the driver pod is started with args "driver <spark-submit args>", executors with "executor"
# and their settings in SPARK_* environment variables set by Spark's KubernetesExecutorBuilder. Anything
# else runs as given. Written for this image; follows the contract of Spark's kubernetes/dockerfiles entrypoint.
set -euo pipefail

: "${SPARK_HOME:?SPARK_HOME must be set}"
: "${JAVA_HOME:?JAVA_HOME must be set}"
tini="${TINI:-/usr/bin/tini}"  # the image's init (reaps the JVM's and Python workers' children)

# Spark writes the pod's spark.properties into SPARK_CONF_DIR (a mounted ConfigMap); both go on the classpath.
classpath="${SPARK_CONF_DIR:-$SPARK_HOME/conf}:$SPARK_HOME/jars/*"
[[ -n "${SPARK_EXTRA_CLASSPATH:-}" ]] && classpath="$classpath:$SPARK_EXTRA_CLASSPATH"
classpath="$classpath:$PWD"

case "${1:-}" in
  driver)
    shift
    exec "$tini" -s -- "$SPARK_HOME/bin/spark-submit" \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:?}" \
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=$SPARK_DRIVER_BIND_ADDRESS" \
      --deploy-mode client "$@"
    ;;
  executor)
    shift
    java_opts=()
    for v in "${!SPARK_JAVA_OPT_@}"; do java_opts+=("${!v}"); done
    exec "$tini" -s -- "$JAVA_HOME/bin/java" "${java_opts[@]}" \
      -Xms"${SPARK_EXECUTOR_MEMORY:?}" -Xmx"$SPARK_EXECUTOR_MEMORY" -cp "$classpath" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "${SPARK_DRIVER_URL:?}" --executor-id "${SPARK_EXECUTOR_ID:?}" \
      --cores "${SPARK_EXECUTOR_CORES:?}" --app-id "${SPARK_APPLICATION_ID:?}" \
      --hostname "${SPARK_EXECUTOR_POD_IP:?}" --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "${SPARK_EXECUTOR_POD_NAME:?}"
    ;;
  *)
    exec "$@"
    ;;
esac
