#!/usr/bin/env bash
# The Edgeway walkthrough: deploys the two-chart "shop" composite app to the local edge clusters that
# `make run` starts and registers (provider "local", clusters edge1 and edge2, label "edge" on both,
# "zone-a" on edge1 and "zone-b" on edge2).
#
#   examples/shop/deploy.sh up        # create everything, approve, instantiate
#   examples/shop/deploy.sh status    # EMCO-style status (add a query, e.g. "status=deployed&output=summary")
#   examples/shop/deploy.sh update    # change a value and roll it out as revision 2
#   examples/shop/deploy.sh rollback  # back to revision 1 (as revision 3)
#   examples/shop/deploy.sh down      # terminate and delete everything
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
API=${EDGEWAY_API:-https://127.0.0.1:9443/v2}
CA=${EDGEWAY_CA:-$root/.edgeway/tls/ca.crt}
PN=shop-demo
P=projects/$PN
CA_PATH=$P/composite-apps/shop/v1
DIG=$CA_PATH/deployment-intent-groups/edge
DATA=${EDGEWAY_DATA_DIR:-$root/.edgeway}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# The walkthrough acts as "shop-team", a client of the dev identity provider with no platform role:
# it creates its own project (and so owns it). Its secret is created once and kept beside the others.
token() {
  local creds=$DATA/dev/shop-team.json
  if [ ! -f "$creds" ]; then
    (umask 077; "$root/bin/edgeway" dev-idp add-client --data-dir "$DATA" shop-team > "$creds")
  fi
  local id secret
  id=$(sed -n 's/.*"client_id":"\([^"]*\)".*/\1/p' "$creds")
  secret=$(sed -n 's/.*"client_secret":"\([^"]*\)".*/\1/p' "$creds")
  curl -sS --cacert "$CA" -u "$id:$secret" -d grant_type=client_credentials "${API%/v2}/dev-idp/oauth/token" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
TOKEN=${EDGEWAY_TOKEN:-$(token)}
[ -n "$TOKEN" ] || { echo "could not get a token from the dev identity provider" >&2; exit 1; }

call() { # METHOD PATH [curl args...]: prints the answer, fails on an HTTP error
  local method=$1 path=$2; shift 2
  local out code
  out=$(curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" -X "$method" -w '\n%{http_code}' "$@" "$API/$path")
  code=${out##*$'\n'}; out=${out%$'\n'*}
  printf '%-6s %-90s %s\n' "$method" "/v2/$path" "$code"
  if [ "$code" -ge 400 ] && [ "$code" != 409 ]; then echo "$out" >&2; exit 1; fi
  [ -z "${SHOW:-}" ] || echo "$out"
}
json() { call "$1" "$2" -H 'Content-Type: application/json' -d "$3"; }

up() {
  for c in backend frontend; do
    tar -C "$here/charts" -czf "$work/$c.tgz" "$c"
    tar -C "$here/profiles/$c" -czf "$work/$c-profile.tgz" .
  done
  json POST projects '{"metadata":{"name":"'$PN'","description":"Edgeway walkthrough"}}'
  json POST $P/composite-apps '{"metadata":{"name":"shop"},"spec":{"compositeAppVersion":"v1"}}'
  for c in backend frontend; do
    call POST $CA_PATH/apps -F "metadata={\"metadata\":{\"name\":\"$c\"}}" -F "file=@$work/$c.tgz"
  done
  # The frontend starts once the backend's objects are applied on the same cluster.
  json POST $CA_PATH/apps/frontend/dependency '{"metadata":{"name":"needs-backend"},"spec":{"app":"backend","opStatus":"Deployed","wait":0}}'
  json POST $CA_PATH/composite-profiles '{"metadata":{"name":"edge-profile"}}'
  for c in backend frontend; do
    call POST $CA_PATH/composite-profiles/edge-profile/profiles -F "metadata={\"metadata\":{\"name\":\"$c-profile\"},\"spec\":{\"app\":\"$c\"}}" -F "file=@$work/$c-profile.tgz"
  done
  # A standard logical cloud: Edgeway creates namespace "shop", its quota and a role on each cluster.
  json POST $P/logical-clouds '{"metadata":{"name":"shop-cloud"},"spec":{"namespace":"shop","level":"1","user":{"userName":"shop-team","type":"certificate"}}}'
  json POST $P/logical-clouds/shop-cloud/cluster-references '{"metadata":{"name":"edge1"},"spec":{"clusterProvider":"local","cluster":"edge1"}}'
  json POST $P/logical-clouds/shop-cloud/cluster-references '{"metadata":{"name":"edge2"},"spec":{"clusterProvider":"local","cluster":"edge2"}}'
  json POST $P/logical-clouds/shop-cloud/cluster-quotas '{"metadata":{"name":"shop-quota"},"spec":{"pods":"20","limits.memory":"2Gi"}}'
  json POST $P/logical-clouds/shop-cloud/user-permissions '{"metadata":{"name":"shop-admin"},"spec":{"namespace":"shop","apiGroups":["","apps"],"resources":["*"],"verbs":["*"]}}'
  json POST $CA_PATH/deployment-intent-groups '{"metadata":{"name":"edge"},"spec":{"compositeProfile":"edge-profile","version":"r1","logicalCloud":"shop-cloud","overrideValues":[{"app":"frontend","values":{"replicas":"2"}}]}}'
  json POST $DIG/generic-placement-intents '{"metadata":{"name":"placement"}}'
  # backend on every cluster labelled "edge"; frontend on one cluster labelled "edge".
  json POST $DIG/generic-placement-intents/placement/app-intents '{"metadata":{"name":"backend"},"spec":{"app":"backend","intent":{"allOf":[{"clusterProvider":"local","clusterLabel":"edge"}]}}}'
  json POST $DIG/generic-placement-intents/placement/app-intents '{"metadata":{"name":"frontend"},"spec":{"app":"frontend","intent":{"anyOf":[{"clusterProvider":"local","clusterLabel":"edge"}]}}}'
  json POST $DIG/intents '{"metadata":{"name":"intents"},"spec":{"intent":{"genericPlacementIntent":"placement"}}}'
  call POST $DIG/approve
  call POST $DIG/instantiate
  echo "instantiated; now: $0 status"
}

status() { SHOW=1 call GET "$DIG/status?${1:-status=deployed}"; }

update() {
  json PUT $CA_PATH/deployment-intent-groups/edge '{"metadata":{"name":"edge"},"spec":{"compositeProfile":"edge-profile","version":"r1","logicalCloud":"shop-cloud","overrideValues":[{"app":"frontend","values":{"replicas":"2","title":"Edgeway shop revision 2"}}]}}'
  SHOW=1 call POST $DIG/update
}

rollback() { SHOW=1 json POST $DIG/rollback '{"revision":1}'; }

down() {
  call POST $DIG/terminate || true
  echo "waiting for the objects to be deleted..."
  for _ in $(seq 1 60); do
    s=$(curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$API/$DIG/status?status=deployed&output=summary")
    case "$s" in *'"deployedStatus":"Terminated"'*) break ;; esac
    sleep 1
  done
  for p in $DIG/intents/intents $DIG/generic-placement-intents/placement/app-intents/frontend \
           $DIG/generic-placement-intents/placement/app-intents/backend $DIG/generic-placement-intents/placement \
           $DIG $CA_PATH/composite-profiles/edge-profile/profiles/frontend-profile \
           $CA_PATH/composite-profiles/edge-profile/profiles/backend-profile $CA_PATH/composite-profiles/edge-profile \
           $CA_PATH/apps/frontend/dependency/needs-backend $CA_PATH/apps/frontend $CA_PATH/apps/backend $CA_PATH \
           $P/logical-clouds/shop-cloud/user-permissions/shop-admin $P/logical-clouds/shop-cloud/cluster-quotas/shop-quota \
           $P/logical-clouds/shop-cloud/cluster-references/edge2 $P/logical-clouds/shop-cloud/cluster-references/edge1 \
           $P/logical-clouds/shop-cloud $P; do
    call DELETE "$p" || true
  done
}

case "${1:-}" in
  up) up ;; status) status "${2:-}" ;; update) update ;; rollback) rollback ;; down) down ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
