"""`python -m tracking_demo` is the `tracking-demo` command."""

from tracking_demo.cli import main

main()
