#!/bin/sh
# The image's entrypoint: `docker run IMAGE train moons --data /data` runs
# `tracking-demo train moons --data /data`; with no arguments it prints tracking-demo's help.
# Any other command (bash, python, the job command a platform such as Azure ML passes when it
# keeps the entrypoint) runs unchanged, so the entrypoint never gets in a job's way.
#
# The subcommands are listed rather than guessed from PATH because `sync` is also coreutils'
# sync; tests/image checks this list against tracking-demo's own commands. `tensorboard` is the
# one left out: it stays TensorBoard's own program (installed in the image), so
# `docker run IMAGE tensorboard --logdir ...` works; ours is `tracking-demo tensorboard RUN`.
set -eu

case "${1:-}" in
  "" ) exec tracking-demo --help ;;
  -*|compare|data|models|predict|quickstart|serve|server|sweep|sync|train) exec tracking-demo "$@" ;;
  * ) exec "$@" ;;
esac
