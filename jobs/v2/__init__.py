"""The SDK v2 renderers (azure-ai-ml): the job spec as v2 entities, CLI v2 YAML and MLClient calls.

`import azure.ai.ml` costs seconds, so the submitters import these modules only once `--sdk v2`
is chosen and an option needs them: `--help`, option errors and the v1 path never load it.
"""
