"""The local MLflow tracking server: `local` starts, finds and stops it as one process group;
`app` is the MLflow app it serves (sqlite tuned for latency); `azure_surface` the variant that
refuses what Azure ML's server lacks; `processes` the process-group start, wait and stop that
the server, sweep trials and local endpoints share."""
