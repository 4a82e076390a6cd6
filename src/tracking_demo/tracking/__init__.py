"""Where runs go and how they get there without losing anything.

`settings` resolves the tracking URI and experiment; `session` starts and ends a run and is all a
task sees; `logger` writes each record to the run's write-ahead log (`wal`) and `delivery` sends
it to MLflow in the background; `sync` finishes what a process left undelivered; `workspace` is
the only module that reads an Azure ML workspace (its SDK imported lazily).
"""
