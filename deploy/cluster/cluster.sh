#!/usr/bin/env bash
# A whole gwx cluster on loopback: one PostgreSQL database, a three-node
# Garage (the S3-compatible object store, 3 replicas), three gwx nodes and
# haproxy in front of them (TCP, PROXY v2).
#
#   deploy/cluster/cluster.sh start    # prints where everything is
#   deploy/cluster/cluster.sh status
#   deploy/cluster/cluster.sh stop
#
# Environment: GWX_CLUSTER_DIR (default /tmp/gwx-cluster), GWX_CLUSTER_POSTGRES
# (a server URL whose role may create databases; default the test role of
# .ci/run), GWX_CLUSTER_NODES (default 3), GWX (the gwx binary; default
# target/release/gwx, built when missing), GWX_GARAGE (default the one
# .ci/run installs), GWX_CLUSTER_PORT (haproxy's, default 8443),
# GWX_CLUSTER_DB (default gwx_cluster).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BASE=${GWX_CLUSTER_DIR:-/tmp/gwx-cluster}
PG=${GWX_CLUSTER_POSTGRES:-postgres://gwx_test:gwx_test@localhost}
NODES=${GWX_CLUSTER_NODES:-3}
PORT=${GWX_CLUSTER_PORT:-8443}
GWX=${GWX:-$ROOT/target/release/gwx}
GARAGE=${GWX_GARAGE:-$HOME/.cache/gwx-tools/bin/garage}
DB=${GWX_CLUSTER_DB:-gwx_cluster}
# Test credentials of this local cluster only.
KEY_ID=GKc1a5e7c1a5e7c1a5e7c1a5e7
SECRET=c1a5e7c1a5e7c1a5e7c1a5e7c1a5e7c1a5e7c1a5e7c1a5e7c1a5e7c1a5e7c1a5
RPC_SECRET=$(printf 'gwx-cluster-rpc-secret-%.0s' 1 | sha256sum | cut -d' ' -f1)
BUCKET=gwx-blobs

garage_cli() { "$GARAGE" -c "$BASE/garage/$1/garage.toml" "${@:2}"; }

wait_for() { # what, command...
    local what=$1; shift
    # 60 s: a node's first start waits for the new Garage layout to settle.
    for _ in $(seq 1 300); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    echo "$what did not come up" >&2
    return 1
}

start_garage() {
    for i in 1 2 3; do
        local d=$BASE/garage/$i
        mkdir -p "$d"
        cat >"$d/garage.toml" <<TOML
metadata_dir = "$d/meta"
data_dir = "$d/data"
db_engine = "lmdb"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:$((3901 + 10 * i))"
rpc_public_addr = "127.0.0.1:$((3901 + 10 * i))"
rpc_secret = "$RPC_SECRET"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$((3900 + 10 * i))"
[admin]
api_bind_addr = "127.0.0.1:$((3902 + 10 * i))"
TOML
        nohup "$GARAGE" -c "$d/garage.toml" server >"$d/garage.log" 2>&1 &
        echo $! >"$d/pid"
    done
    for i in 1 2 3; do wait_for "garage $i" garage_cli "$i" node id -q; done
    for i in 2 3; do garage_cli 1 node connect "$(garage_cli "$i" node id -q)" >/dev/null; done
    for i in 1 2 3; do
        garage_cli 1 layout assign -z "dc$i" -c 1G "$(garage_cli "$i" node id -q | cut -d@ -f1)" >/dev/null
    done
    garage_cli 1 layout apply --version 1 >/dev/null
    # Until the new layout has reached every node, writes may fail: each
    # step is retried until what it makes is there.
    wait_for "the garage key" bash -c "'$GARAGE' -c '$BASE/garage/1/garage.toml' key info '$KEY_ID' \
        || '$GARAGE' -c '$BASE/garage/1/garage.toml' key import --yes -n gwx '$KEY_ID' '$SECRET'"
    wait_for "the garage bucket" bash -c "'$GARAGE' -c '$BASE/garage/1/garage.toml' bucket info '$BUCKET' \
        || '$GARAGE' -c '$BASE/garage/1/garage.toml' bucket create '$BUCKET'"
    wait_for "the bucket's key" garage_cli 1 bucket allow --read --write --owner "$BUCKET" --key "$KEY_ID"
}

node_config() { # node number
    local i=$1
    sed -e "s|^https = .*|https = [\"127.0.0.1:$((9440 + i))\"]|" \
        -e "s|^http = .*|http = [\"127.0.0.1:$((9450 + i))\"]|" \
        -e "s|^# public_url = .*|public_url = \"https://localhost:$PORT\"|" \
        -e "s|^trusted = \[\]|trusted = [\"127.0.0.2\"]   # haproxy connects from there|" \
        -e "s|^proxy_protocol = false|proxy_protocol = true|" \
        "$BASE/demo/gwx.toml"
    cat <<TOML

[blobs]
url = "s3://$BUCKET/hub"
endpoint = "http://127.0.0.1:3900"   # haproxy, before the three Garage nodes
region = "garage"
access_key_id = "$KEY_ID"
secret_access_key = "$SECRET"
TOML
}

start() {
    if [ -e "$BASE" ]; then
        echo "$BASE exists: run '$0 stop' first" >&2
        exit 1
    fi
    [ -x "$GWX" ] || cargo build --release --quiet
    [ -x "$GARAGE" ] || { echo "no garage at $GARAGE: run .ci/run once, or set GWX_GARAGE" >&2; exit 1; }
    mkdir -p "$BASE"
    trap 'echo "the cluster did not start; stopping what did" >&2; stop >&2' ERR
    echo "PostgreSQL: database $DB on $PG"
    PGOPTIONS=--client-min-messages=warning psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    echo "Garage: three nodes, S3 on 127.0.0.1:3910, :3920, :3930"
    start_garage
    echo "gwx: the demo PKI and participants, in the database"
    "$GWX" init --dir "$BASE/demo" --database "$PG/$DB" >/dev/null
    # haproxy first: the nodes reach the object store through it.
    local servers=""
    for i in $(seq 1 "$NODES"); do
        servers+="    server node$i 127.0.0.1:$((9440 + i))"$'\n'
    done
    sed -e "s|@PORT@|$PORT|" -e "/@SERVERS@/{r /dev/stdin" -e "d}" "$ROOT/deploy/cluster/haproxy.cfg" \
        <<<"${servers%$'\n'}" >"$BASE/haproxy.cfg"
    haproxy -c -q -f "$BASE/haproxy.cfg"
    haproxy -D -p "$BASE/haproxy.pid" -f "$BASE/haproxy.cfg"
    for i in $(seq 1 "$NODES"); do
        local d=$BASE/node$i
        mkdir -p "$d"
        cp -r "$BASE/demo/certs" "$BASE/demo/clients" "$d/"
        node_config "$i" >"$d/gwx.toml"
        nohup "$GWX" serve --dir "$d" >"$d/gwx.log" 2>&1 &
        echo $! >"$d/pid"
    done
    # Nodes start together on the new database: they take turns seeding it.
    for i in $(seq 1 "$NODES"); do
        wait_for "gwx node $i" bash -c "grep -q 'hub listening' '$BASE/node$i/gwx.log'" \
            || { tail -20 "$BASE/node$i/gwx.log" >&2; false; }
    done
    echo "haproxy: https://localhost:$PORT → gwx nodes on 127.0.0.1:9441…$((9440 + NODES))"
    echo
    echo "  curl --cacert $BASE/demo/certs/ca.pem --cert $BASE/demo/clients/379100000G.pem \\"
    echo "       --key $BASE/demo/clients/379100000G.key https://localhost:$PORT/api/v1/whoami"
    echo "  $0 stop"
}

stop() {
    [ -e "$BASE" ] || return 0
    for f in "$BASE/haproxy.pid" "$BASE"/node*/pid "$BASE"/garage/*/pid; do
        [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    sleep 1
    for f in "$BASE"/node*/pid "$BASE"/garage/*/pid; do
        [ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
    PGOPTIONS=--client-min-messages=warning psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
    rm -rf "$BASE"
    echo "stopped; $BASE removed"
}

status() {
    for f in "$BASE/haproxy.pid" "$BASE"/node*/pid "$BASE"/garage/*/pid; do
        [ -e "$f" ] || continue
        if kill -0 "$(cat "$f")" 2>/dev/null; then s=up; else s=DOWN; fi
        echo "$s  ${f#"$BASE"/}"
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|status|stop" >&2; exit 2 ;;
esac
