#!/usr/bin/env bash
# deps.sh: install the Debian packages Myco needs, and nothing else.
#
#   scripts/deps.sh [build|test|bench|all]    (default: test)
#
# Idempotent and quick when nothing is missing (one dpkg-query call).
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -euo pipefail

profile=${1:-test}

build_pkgs=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev
            python3 libcmocka-dev liburing-dev libseccomp-dev libjansson-dev
            zlib1g-dev liblz4-dev libzstd-dev libssl-dev
            libnghttp2-dev libraft-dev libuv1-dev
            libsasl2-dev libsasl2-modules)
# Real clients and tools the tests drive (never mocks).
test_pkgs=(graphviz kcat python3-kafka python3-confluent-kafka librdkafka-dev
           procps util-linux iproute2 nftables
           spin python3-lz4 python3-zstandard prometheus
           curl nghttp2-client openssl
           redis-server redis-tools python3-redis libhiredis-dev
           chromium chromium-driver nodejs)
# Baselines the benchmarks compare against, in the same run.
bench_pkgs=(iceoryx libiceoryx-binding-c-dev nats-server rt-tests libuv1-dev
            hyperfine linux-perf liblttng-ust-dev lttng-tools
            nginx-light wrk)

case "$profile" in
  build) want=("${build_pkgs[@]}") ;;
  test)  want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench|all) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "deps.sh: unknown profile '$profile' (build|test|bench|all)" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps.sh: not a Debian system; install by hand: ${want[*]}" >&2
  exit 0
fi

# npm packages of the test clients (pinned by package-lock.json, installed
# with `npm ci` into the test's own folder): KafkaJS for myco-log's tests.
npm_dirs=(tests/integration/log/kafkajs)
npm_deps() {
  [ "$profile" = build ] && return 0
  local root dir
  root=$(cd "$(dirname "$0")/.." && pwd)
  for dir in "${npm_dirs[@]}"; do
    [ -d "$root/$dir/node_modules" ] && continue
    if ! command -v npm >/dev/null 2>&1; then
      echo "deps.sh: npm not found: $dir's test client is not installed (that test is skipped)" >&2
      continue
    fi
    echo "deps.sh: npm ci in $dir" >&2
    (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error) ||
      echo "deps.sh: npm ci failed in $dir (that test is skipped)" >&2
  done
}

missing=()
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${want[@]}" 2>/dev/null || true)
for p in "${want[@]}"; do
  grep -qx "$p installed" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  npm_deps
  exit 0
fi

echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: not root; run:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's nodejs may come without npm (nodesource's bundles it)
command -v npm >/dev/null 2>&1 || apt-get install -y -q --no-install-recommends npm || true
npm_deps
