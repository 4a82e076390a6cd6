"""`python -m tracking_demo` is the `tracking-demo` command."""

from tracking_demo.cli.main import main

main()
