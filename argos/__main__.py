from argos.cli import app

app(prog_name="argos")
