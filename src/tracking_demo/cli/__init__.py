"""The `tracking-demo` command: parses options and wires the layers below together, nothing more.

`main.py` holds the root group; each other command module one group of commands (`server`,
`data`, `train`, `sweep`, `models`, `serving`, `compare`, `sync`, `quickstart`). `options` and
`task_options` turn click options into options objects, `results` prints what a run produced,
`errors` prints a user's error as one line, `output` keeps third-party noise quiet. Commands
import what they use when they run, so `--help` loads no heavy module.
"""
