#!/bin/sh
# Install mcos from its wheel into a virtual environment of its own:
#   deploy/install-wheel.sh PREFIX WHEEL
# The Dockerfile runs this, and so does tests/deploy/test_container_steps.py outside a container.
set -eu
prefix="$1"
wheel="$2"
"${PYTHON:-python3}" -m venv "$prefix"
"$prefix/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet "$wheel"
"$prefix/bin/mcos" --version
