"""Entry file for spark-submit / the SparkApplication (``mainApplicationFile``): runs ``argos etl``."""

from argos.cli import app

if __name__ == "__main__":
    app(["etl"], prog_name="argos")
