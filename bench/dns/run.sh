#!/usr/bin/env bash
# DNS benchmark: netplan's embedded DNS side by side with aardvark-dns 1.4 and dnsmasq serving the
# same names, dnsperf asking from inside a container namespace; plus the service's memory with
# N served namespaces and the time of a reload that adds one container to N.
#
# Everything runs inside a throwaway network + mount + pid namespace sandbox: the benchmark binary
# re-executes itself under `unshare` (see runtime/tests/dns_bench.rs), so nothing reaches this
# machine's interfaces, routes or firewall, and every process it starts ends with it.
#
# Needs root and the Debian packages dnsperf, aardvark-dns, dnsmasq-base, iproute2 (and `time`,
# optional, for dnsperf's own CPU load). A missing peer is reported and skipped.
#
# Usage: bench/dns/run.sh [CONTAINERS]        (default 1000)
# Environment: DNS_BENCH_SECONDS (10 per throughput run), DNS_BENCH_ROUNDS (5, interleaved),
#              DNS_BENCH_RATE (5000 qps for the latency runs), DNS_BENCH_OUT (the Markdown table).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
  echo "bench/dns/run.sh: needs root (it creates network namespaces inside a private sandbox)" >&2
  exit 1
fi
for tool in dnsperf ip unshare; do
  command -v "$tool" >/dev/null || {
    echo "bench/dns/run.sh: $tool is missing; apt-get install dnsperf aardvark-dns dnsmasq-base iproute2 time" >&2
    exit 1
  }
done
cargo build --release -p netplan
export NETPLAN_BIN="$PWD/target/release/netplan"
export DNS_BENCH_CONTAINERS="${1:-1000}"
export DNS_BENCH_SECONDS="${DNS_BENCH_SECONDS:-10}"
export DNS_BENCH_ROUNDS="${DNS_BENCH_ROUNDS:-5}"
export DNS_BENCH_OUT="${DNS_BENCH_OUT:-$PWD/target/dns-bench.md}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
cargo test --release -p netplan-runtime --test dns_bench -- --include-ignored --nocapture
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "table written to $DNS_BENCH_OUT" >&2
