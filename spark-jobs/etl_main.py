"""Entry file for spark-submit / the SparkApplication (``mainApplicationFile``): runs ``argos etl --no-migrate``.

The chart's schema hook Job is the one migrator; the job waits until the schema is up to date.
"""

from argos.cli import app

if __name__ == "__main__":
    app(["etl", "--no-migrate"], prog_name="argos")
