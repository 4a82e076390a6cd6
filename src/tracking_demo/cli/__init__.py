"""The `tracking-demo` command: parses options and wires the layers below together, nothing more.

`main.py` holds the command group; each other module one group of commands. Commands import what
they use when they run, so `--help` loads no heavy module.
"""
