"""Azure ML submitters (azureml-core).

A job is `tracking-demo train TASK --data DIR [options]` run with Azure ML's environment
(`MLFLOW_TRACKING_URI`, `MLFLOW_RUN_ID`, `MLFLOW_EXPERIMENT_NAME`); submitters only package that
command and never add training logic. Nothing under `src/tracking_demo` imports from here.
"""
