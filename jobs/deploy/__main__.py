"""`python -m jobs.deploy SUBCOMMAND ...` (see `jobs.deploy.cli`)."""

import sys

from jobs.deploy.cli import main

main(prog_name="python -m jobs.deploy", args=sys.argv[1:])
