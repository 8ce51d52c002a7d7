#!/usr/bin/env bash
# Apply benchmark: netplan vs netavark 1.4 vs an `ip -batch` script, side by side.
#
#   sudo bench/apply/run.sh [SIZES...]        (default sizes: 100 500 1000)
#
# For each size N (containers spread over 10 bridge networks) and each engine, in a fresh
# throwaway network + mount + pid namespace (nothing reaches the machine's own network):
#   cold     set up N containers from nothing
#   noop     the same again (netplan only: an apply that changes nothing; median of 3)
#   add1     add one container to the N (netplan: median of 3, the container removed again
#            untimed in between)
#            (noop and add1 start 5 s after the cold set-up, in the steady state: right after
#            it the kernel is still busy with the 2N new interfaces, IPv6 address set-up above all)
#   destroy  remove everything
#   rss      peak memory of the netplan process of the cold apply (KiB)
# After the raw lines, a summary per N: per-container cold time of each engine, netavark's
# over netplan's (target >= 10), netplan's over ip -batch's (target <= 1.5) and add1 as a
# share of netplan's cold apply (target < 5 %).
# Every engine creates one named namespace, one veth pair (container end created inside the
# namespace as eth0 with a fixed MAC), an address and a default route per container, and 10
# bridges with their gateway addresses. netplan also writes /etc/netns files, installs its
# nftables table and runs its DNS service; netavark (one `netavark setup` per container, as
# Podman does, with aardvark-dns on) installs its iptables rules; `ip -batch` does only the
# kernel work: one batch for the host side, one `ip -n NS -batch` per namespace.
# Needs: a release build of netplan (built here), iproute2, nftables, netavark, iptables, util-linux.
# ENGINES="netplan ipbatch" runs only those.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
NETPLAN=${NETPLAN:-$root/target/release/netplan}
NETAVARK=${NETAVARK:-/usr/lib/podman/netavark}
AARDVARK=${AARDVARK:-/usr/lib/podman/aardvark-dns}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# --- inside a fresh sandbox: one engine, one size --------------------------------------------
if [ "${1:-}" = "--one" ]; then
  engine=$2 n=$3 work=$4
  mount --make-rprivate /
  for d in /run/netns /etc/netns /var/lib/netplan /run/netplan; do mkdir -p "$d"; mount -t tmpfs none "$d"; done
  ip link set lo up
  cd "$work"
  ip_of() { local i=$1; echo "10.90.$(( (i % 10) * 4 )).$(( i / 10 + 2 ))"; }
  gw_of() { local i=$1; echo "10.90.$(( (i % 10) * 4 )).1"; }
  mac_of() { local i=$1; printf '02:42:0a:5a:%02x:%02x' $(( (i % 10) * 4 )) $(( i / 10 + 2 )); }
  case $engine in
  netplan)
    # Both files are topology "bench" (a topology is named after its file).
    median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
    t0=$(now); /usr/bin/time -o rss -f %M "$NETPLAN" apply "base$n/bench.net" >/dev/null; t1=$(now)
    sleep 5
    noop=()
    for _ in 1 2 3; do
      a=$(now); "$NETPLAN" apply "base$n/bench.net" >/dev/null; b=$(now); noop+=("$(elapsed "$a" "$b")")
    done
    cp "base$n/bench.net.lock" "plus$n/bench.net.lock"
    add=()
    for k in 1 2 3; do
      a=$(now); "$NETPLAN" apply "plus$n/bench.net" >/dev/null 2>&1; b=$(now); add+=("$(elapsed "$a" "$b")")
      if ((k < 3)); then "$NETPLAN" apply "base$n/bench.net" >/dev/null; fi
    done
    t3=$(now); "$NETPLAN" destroy "plus$n/bench.net" >/dev/null; t4=$(now)
    echo "netplan $n $(elapsed "$t0" "$t1") $(median "${noop[@]}") $(median "${add[@]}") $(elapsed "$t3" "$t4") $(cat rss)"
    ;;
  netavark)
    # A configuration directory and an error log of its own for each N.
    conf="$work/nvconf$n" err="$work/nv$n.err"
    mkdir -p "$conf"
    setup() {
      ip netns add "c$1"
      "$NETAVARK" --config "$conf" -a "$AARDVARK" -f "nv$1.json" setup "/run/netns/c$1" >/dev/null 2>>"$err" ||
        { echo "netavark setup of c$1 failed ($?)" >>"$err"; return 1; }
    }
    t0=$(now); for ((i = 0; i < n; i++)); do setup "$i"; done; t1=$(now)
    sleep 5
    ta=$(now); setup "$n"; t2=$(now)
    for ((i = 0; i <= n; i++)); do
      "$NETAVARK" --config "$conf" -a "$AARDVARK" -f "nv$i.json" teardown "/run/netns/c$i" >/dev/null 2>>"$err" ||
        { echo "netavark teardown of c$i failed ($?)" >>"$err"; exit 1; }
      ip netns del "c$i"
    done; t3=$(now)
    echo "netavark $n $(elapsed "$t0" "$t1") - $(elapsed "$ta" "$t2") $(elapsed "$t2" "$t3") -"
    ;;
  ipbatch)
    inside() { ip -n "c$1" -batch "in$1.batch"; }
    t0=$(now); ip -batch "host$n.batch"; for ((i = 0; i < n; i++)); do inside "$i"; done; t1=$(now)
    sleep 5
    ta=$(now); ip -batch "one$n.batch"; inside "$n"; t2=$(now)
    ip -batch "down$n.batch"; t3=$(now)
    echo "ipbatch $n $(elapsed "$t0" "$t1") - $(elapsed "$ta" "$t2") $(elapsed "$t2" "$t3") -"
    ;;
  esac
  exit 0
fi

# --- outside: build, generate inputs, run each case in its own sandbox ------------------------
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (it works inside a private namespace sandbox)" >&2; exit 1; }
sizes=("${@:-100 500 1000}")
read -r -a sizes <<<"${sizes[*]}"
(cd "$root" && cargo build --release -q -p netplan)
work=$(mktemp -d /tmp/netplan-bench-apply.XXXXXX)
trap 'rm -rf "$work"' EXIT

gen() { # gen N -> baseN/bench.net plusN/bench.net, nvI.json, batches
  local n=$1 i k
  mkdir -p "$work/base$n" "$work/plus$n"
  {
    for ((k = 0; k < 10; k++)); do echo "network n$k { subnet 10.90.$((k * 4)).0/22 }"; done
    for ((i = 0; i < n; i++)); do echo "container c$i { network n$((i % 10)) }"; done
  } >"$work/base$n/bench.net"
  { cat "$work/base$n/bench.net"; echo "container c$n { network n$((n % 10)) }"; } >"$work/plus$n/bench.net"
  : >"$work/host$n.batch"
  for ((k = 0; k < 10; k++)); do
    printf 'link add nvbr%d type bridge\naddr add 10.90.%d.1/22 dev nvbr%d\nlink set nvbr%d up\n' \
      "$k" $((k * 4)) "$k" "$k" >>"$work/host$n.batch"
  done
  : >"$work/down$n.batch"
  for ((i = 0; i <= n; i++)); do
    k=$((i % 10)); local ip="10.90.$((k * 4)).$((i / 10 + 2))" gw="10.90.$((k * 4)).1"
    local mac; mac=$(printf '02:42:0a:5a:%02x:%02x' $((k * 4)) $((i / 10 + 2)))
    local host="netns add c$i
link add v$i type veth peer name eth0 netns c$i address $mac mtu 1500
link set v$i master nvbr$k up"
    if ((i < n)); then echo "$host" >>"$work/host$n.batch"; else echo "$host" >"$work/one$n.batch"; fi
    printf 'link set lo up\naddr add %s/22 dev eth0\nlink set eth0 up\nroute add default via %s\n' "$ip" "$gw" >"$work/in$i.batch"
    echo "netns del c$i" >>"$work/down$n.batch"
    cat >"$work/nv$i.json" <<JSON
{ "container_id": "$(printf '%064x' "$((i + 1))")", "container_name": "c$i",
  "networks": { "n$k": { "interface_name": "eth0", "static_ips": ["$ip"], "static_mac": "$mac" } },
  "network_info": { "n$k": { "name": "n$k", "id": "$(printf '%064x' "$((k + 4096))")", "driver": "bridge",
    "network_interface": "nvbr$k", "subnets": [ { "subnet": "10.90.$((k * 4)).0/22", "gateway": "$gw" } ],
    "ipv6_enabled": false, "internal": false, "dns_enabled": true, "ipam_options": { "driver": "host-local" } } } }
JSON
  done
  for ((k = 0; k < 10; k++)); do echo "link del nvbr$k" >>"$work/down$n.batch"; done
}

sleep 5  # whatever ran before settles (see the sleep after each case)
echo "load before: $(uptime)"
printf '%-9s %6s %9s %9s %9s %9s %9s\n' engine N cold_s noop_s add1_s destroy_s rss_KiB
: >"$work/results"
for n in "${sizes[@]}"; do
  gen "$n"
  for engine in ${ENGINES:-netplan ipbatch netavark}; do
    if ! line=$(unshare --net --mount --pid --fork --mount-proc -- bash "$0" --one "$engine" "$n" "$work"); then
      echo "run.sh: the $engine case with N=$n failed${line:+ after: $line}" >&2
      if [ -s "$work/nv$n.err" ]; then grep -v 'failed to connect to syslog' "$work/nv$n.err" | tail -5 >&2 || true; fi
      line="$engine $n - - - - -"
    fi
    echo "$line" >>"$work/results"
    # shellcheck disable=SC2086
    printf '%-9s %6s %9s %9s %9s %9s %9s\n' $line
    # The kernel tears the sandbox's namespaces down after it ends; let it finish before the
    # next case, which would otherwise wait for the same lock (rtnl).
    sleep $((2 + n / 250))
  done
done
echo "load after: $(uptime)"
echo
printf '%6s %13s %13s %13s %16s %16s %10s\n' N netplan_ms/c ipbatch_ms/c netavark_ms/c netavark/netplan netplan/ipbatch add1/cold
awk '$3 != "-" { cold[$1 " " $2] = $3; add[$1 " " $2] = $5 } { seen[$2] = 1 }
  function per(e, n) { return (e " " n) in cold ? sprintf("%.2f", cold[e " " n] / n * 1000) : "-" }
  function ratio(a, b, fmt) { return (a != "-" && b != "-" && b > 0) ? sprintf(fmt, a / b) : "-" }
  END {
    for (n in seen) {
      p = per("netplan", n); b = per("ipbatch", n); v = per("netavark", n)
      share = ("netplan " n) in cold ? sprintf("%.1f%%", add["netplan " n] / cold["netplan " n] * 100) : "-"
      printf "%6d %13s %13s %13s %16s %16s %10s\n", n, p, b, v, ratio(v, p, "%.1fx"), ratio(p, b, "%.2fx"), share
    }
  }' "$work/results" | sort -n
