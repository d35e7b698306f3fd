#!/bin/sh
# How the control plane starts in the image (the Dockerfile's ENTRYPOINT). No Docker engine runs
# where the project's tests run, so tests/deploy/test_container_steps.py runs these same steps
# outside a container, on a fresh PostgreSQL database: keep the two in step.
set -eu
fleet="${MCOS_FLEET:-/var/lib/mcos/fleet}"
: "${MCOS_DATABASE_URL:?set MCOS_DATABASE_URL to the control plane PostgreSQL database}"

# 1. The first start writes a fleet (the seed's 23 agents: replace fleet.toml with yours and
#    restart). The operator token goes to a file, not to the container's log.
if [ ! -f "$fleet/fleet.toml" ]; then
  mcos init "$fleet" --database-url "$MCOS_DATABASE_URL" > /dev/null
  echo "mcos: wrote a new fleet to $fleet; the operator token is in $fleet/.mcos/operator.token" >&2
fi

# 2. The database schema, brought to the newest migration (under a lock: replicas starting at
#    once upgrade it once).
mcos db upgrade --fleet "$fleet"

# 3. The control plane. On 0.0.0.0 it needs MCOS_BEHIND_PROXY (TLS ends at the proxy in front,
#    compose.yaml) or MCOS_TLS_CERT and MCOS_TLS_KEY.
exec mcos serve --fleet "$fleet" "$@"
