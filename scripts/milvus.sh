#!/usr/bin/env bash
# Start a throwaway Milvus standalone server (the PyPI package milvus==2.3.5: the real Go server with
# embedded etcd and local storage) on a loopback port, for the test suite and the benchmark.
# Prints the URI to use. Usage: scripts/milvus.sh start|stop DIR
#
# - The server runs from its own small virtualenv (MILVUS_VENV, default .venv-milvus at the top of
#   the repository; created here if missing), since it pins setuptools<70 and marshmallow<4.
# - MILVUS_PORT picks the gRPC port; default: a free one.
# - Its data, logs and pid are in DIR. The server also writes /run/milvus/standalone.pid (outside
#   its data directory) and refuses to start while another server holds that file; when run as root
#   it therefore gets a private mount namespace where DIR/run is mounted on /run/milvus, so several
#   servers (several checkouts, CI jobs) run side by side.
# - stop: SIGTERM to the whole process group, SIGKILL after a short grace (a graceful stop never
#   finishes; data survive a SIGKILL). DIR is kept (`rm -rf DIR` to forget the data).
set -euo pipefail
action=$1
dir=$(realpath -m "$2")
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${MILVUS_VENV:-$root/.venv-milvus}
python=${MILVUS_PYTHON:-python3.11}
grace=${MILVUS_STOP_GRACE:-3}

case "$action" in
start)
    if [ ! -x "$venv/bin/milvus-server" ]; then
        "$python" -m venv "$venv"
        "$venv/bin/pip" install -q 'milvus==2.3.5' 'setuptools<70' 'marshmallow<4' >/dev/null
    fi
    mkdir -p "$dir/run"
    if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
        echo "a Milvus server already runs from $dir (pid $(cat "$dir/server.pid"))" >&2
        exit 1
    fi
    free_port() { "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
    port=${MILVUS_PORT:-$(free_port)}
    # The embedded etcd listens on 2379/2380 unless told otherwise, and the package cannot set its
    # ports: a config file of its own (kept with the data, so a restart reuses its ports), named
    # through Milvus's environment override of etcd.config.path.
    etcd_conf="$dir/embed-etcd.yaml"
    if [ ! -f "$etcd_conf" ]; then
        client=$(free_port) peer=$(free_port)
        printf '%s\n' "listen-client-urls: http://127.0.0.1:$client" \
            "advertise-client-urls: http://127.0.0.1:$client" \
            "listen-peer-urls: http://127.0.0.1:$peer" \
            "initial-advertise-peer-urls: http://127.0.0.1:$peer" \
            "initial-cluster: default=http://127.0.0.1:$peer" >"$etcd_conf"
    fi
    client=$(sed -n 's|^listen-client-urls: http://127.0.0.1:||p' "$etcd_conf")
    export ETCD_CONFIG_PATH=$etcd_conf
    run=("$venv/bin/milvus-server" --data "$dir" --proxy-port "$port" --etcd-port "$client")
    if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
        # A private /run/milvus: the pid file lands in DIR/run, and no other server sees it.
        inner='mkdir -p /run/milvus && mount --bind "$0" /run/milvus && shift && exec "$@"'
        run=(unshare -m --propagation private sh -c "$inner" "$dir/run" _ "${run[@]}")
    fi
    : >"$dir/server.out"
    PYTHONUNBUFFERED=1 setsid "${run[@]}" >"$dir/server.out" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/server.pid"
    echo "$port" >"$dir/server.port"
    deadline=$((SECONDS + ${MILVUS_START_TIMEOUT:-120}))
    # The package prints its banner once the server's health check answers OK.
    until grep -q "Welcome to use Milvus" "$dir/server.out" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
            echo "Milvus did not start; see $dir/server.out and $dir/logs" >&2
            tail -n 20 "$dir/server.out" >&2 || true
            kill -KILL -- "-$pid" 2>/dev/null || true
            rm -f "$dir/server.pid"
            exit 1
        fi
        sleep 0.5
    done
    echo "http://127.0.0.1:$port"
    ;;
stop)
    [ -f "$dir/server.pid" ] || exit 0
    pid=$(cat "$dir/server.pid")
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq $((grace * 10))); do
        kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$dir/server.pid" "$dir/run/standalone.pid"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
