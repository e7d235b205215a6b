#!/usr/bin/env bash
# A CI step that deploys with edgewayctl, for any CI system that runs shell scripts.
#
# The pipeline provides (as protected variables / secrets):
#   EDGEWAY_ENDPOINT        e.g. https://edgeway.example.com:9443
#   EDGEWAY_CLIENT_ID       a confidential client of your identity provider, bound to the project as
#   EDGEWAY_CLIENT_SECRET   "deployer" (or "owner" when the pipeline creates the project itself)
#   EDGEWAY_CA_FILE         optional: the CA of the server's certificate, when it is not publicly trusted
#   GIT_COMMIT              optional: recorded in the deployment's values
#
#   ci/rollout.sh FILE VALUES...
#
# Exit status (edgewayctl rollout's): 0 ready, 1 failed, 2 not ready within the timeout.
set -euo pipefail
file=${1:?usage: rollout.sh FILE VALUES...}; shift
values=()
for v in "$@"; do values+=(-v "$v"); done

# Values the pipeline adds; later -v files win over earlier ones.
extra=$(mktemp); trap 'rm -f "$extra"' EXIT
printf 'Commit: "%s"\n' "${GIT_COMMIT:-unknown}" > "$extra"
values+=(-v "$extra")

set +e
edgewayctl rollout -f "$file" "${values[@]}" --wait --timeout "${ROLLOUT_TIMEOUT:-10m}"
code=$?
set -e
case $code in
  0) echo "deployment ready" ;;
  1) echo "deployment FAILED (see the lines above for the resource and its condition)" >&2 ;;
  2) echo "deployment not ready within ${ROLLOUT_TIMEOUT:-10m}" >&2 ;;
  *) echo "edgewayctl exited with $code" >&2 ;;
esac
exit $code
