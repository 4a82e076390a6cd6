"""`python -m jobs.deploy`: serve a registered model version on Azure ML (a managed online
endpoint, or an ACI web service through SDK v1) or here as Azure's container would.

`cli` wires the subcommands; `names` and `options` check what they are given; `aci` is the SDK v1
path. Nothing here imports an Azure SDK until a subcommand needs it.
"""

from jobs.deploy.cli import main

__all__ = ["main"]
