"""The local hyperparameter sweep: `space` reads the sweep file and samples it, `board` and
`bandit` share the bandit early-termination policy across trial processes, `runner` runs the
trials as nested runs and records the outcome."""
