#!/usr/bin/env bash
# `gwx bench` through haproxy on the cluster of cluster.sh (PostgreSQL +
# a three-node Garage) with 1, 2 and 3 gwx nodes: accepted documents/s,
# submit p99, the nodes' CPU per document (summed over the nodes), and the
# wake of a long-poll on node 2 by a document accepted on node 1.
#
#   deploy/cluster/bench.sh [extra gwx bench arguments]
#
# Each run starts a fresh cluster and stops it; the reports go to
# $GWX_CLUSTER_DIR-bench/nodes-N.txt. Environment: that of cluster.sh, and
# GWX_BENCH_NODES (default "1 2 3").
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=${GWX_CLUSTER_DIR:-/tmp/gwx-cluster}
PG=${GWX_CLUSTER_POSTGRES:-postgres://gwx_test:gwx_test@localhost}
PORT=${GWX_CLUSTER_PORT:-8443}
DB=${GWX_CLUSTER_DB:-gwx_cluster}
GWX=${GWX:-target/release/gwx}
OUT=$BASE-bench
[ -x "$GWX" ] || cargo build --release --quiet
mkdir -p "$OUT"
trap 'deploy/cluster/cluster.sh stop >/dev/null 2>&1 || true' EXIT
for n in ${GWX_BENCH_NODES:-1 2 3}; do
    GWX_CLUSTER_NODES=$n deploy/cluster/cluster.sh start >/dev/null
    pids=$(cat "$BASE"/node*/pid | paste -sd,)
    # The wake travels between nodes when there are two (direct to each node).
    wake=()
    [ "$n" -ge 2 ] && wake=(--wake-hubs https://localhost:9441,https://localhost:9442)
    echo "== $n node(s) (pids $pids) ==" | tee "$OUT/nodes-$n.txt"
    "$GWX" bench --hub "https://localhost:$PORT" --dir "$BASE/demo" --hub-pid "$pids" --database "$PG/$DB" \
        --scenarios throughput,latency,wake "${wake[@]}" "$@" | tee -a "$OUT/nodes-$n.txt"
    deploy/cluster/cluster.sh stop >/dev/null
done
