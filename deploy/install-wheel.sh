#!/bin/sh
# Install mcos from its wheel into a virtual environment of its own:
#   deploy/install-wheel.sh PREFIX WHEEL
# The Dockerfile runs this, and so does tests/deploy/test_container_steps.py outside a container
# (with UV_OFFLINE=1: the dependencies from uv's cache, not the internet).
set -eu
prefix="$1"
wheel="$2"
uv="${UV:-uv}"
"$uv" venv --quiet --python "${PYTHON:-python3}" "$prefix"
"$uv" pip install --quiet --python "$prefix/bin/python" "$wheel"
"$prefix/bin/mcos" --version
