//! DNS benchmark (ignored unless asked for): netplan's embedded DNS side by side with
//! aardvark-dns 1.4 and dnsmasq serving the same names, measured with dnsperf from inside a
//! container namespace, plus the service's memory with 1,000 served namespaces and the time of a
//! reload that adds one container. Everything runs inside a throwaway namespace sandbox.
//!
//! Run it with `bench/dns/run.sh` (release build), which sets:
//! * `NETPLAN_BIN`: the `netplan` executable to start as the service (required);
//! * `DNS_BENCH_CONTAINERS` (1000), `DNS_BENCH_SECONDS` (10 per throughput run),
//!   `DNS_BENCH_ROUNDS` (5), `DNS_BENCH_RATE` (qps of the latency runs, 5000);
//! * `DNS_BENCH_OUT`: a file to write the Markdown table to.
//!
//! Needs `dnsperf`, `aardvark-dns` (found in `/usr/lib/podman` or `/usr/libexec/podman`) and
//! `dnsmasq`; a missing peer is reported and skipped.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Trial};
use netplan_runtime::desired::Desired;
use netplan_runtime::dns::service;
use netplan_runtime::ipam::HostReserved;
use netplan_runtime::kernel::sandbox::{self, Sandbox};
use netplan_runtime::kernel::{Kernel, LinuxKernel, tag_for};
use netplan_runtime::lock::Lock;
use netplan_runtime::planning::against_applied;
use netplan_runtime::state::StateDir;

type R<T> = Result<T, String>;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ctx<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> R<T> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// The benchmark topology: `n` containers on one /16, each with a network alias.
fn topology(n: usize) -> String {
    let mut t = String::from("network bench { subnet 10.88.0.0/16 }\n");
    for i in 0..n {
        let _ = writeln!(t, "container c{i} {{ network bench {{ alias a{i} }} }}");
    }
    t
}

fn plan(text: &str) -> R<Desired> {
    let checked = netplan_lang::check::check_text(text, "bench");
    let topo = checked.topology.ok_or("the benchmark topology has errors")?;
    against_applied(&topo, &Lock::default(), None, &HostReserved::default())
        .map(|p| p.allocated.desired)
        .map_err(|d| format!("planning: {d:?}"))
}

fn ipv4(d: &Desired, c: &str) -> R<IpAddr> {
    d.container(c)
        .and_then(|c| c.endpoints.first())
        .and_then(|e| e.ipv4)
        .map(|n| IpAddr::V4(n.addr()))
        .ok_or_else(|| format!("{c} has no address"))
}

/// Resident and peak memory of `pid` in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time (user + system) `pid` has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(11) + field(12);
    ticks as f64 / clock_ticks()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn run(cmd: &mut Command, what: &str) -> R<String> {
    let out = ctx(cmd.output(), what)?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ip_netns(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(args);
    c
}

// ---------------------------------------------------------------- dnsperf

#[derive(Debug, Default, Clone)]
struct Throughput {
    qps: f64,
    /// Server CPU time per answered query, in microseconds.
    cpu_us: f64,
    /// dnsperf's CPU time per second of run (1.0: it kept a whole core busy), when measurable.
    client_load: Option<f64>,
    sent: u64,
    lost: u64,
    noerror_pct: f64,
}

fn number_after(text: &str, label: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// `/usr/bin/time` (Debian package `time`), to measure dnsperf's own CPU time, if installed.
const TIME: &str = "/usr/bin/time";

fn dnsperf_throughput(ns: &str, peer: &Peer, src: &str, queries: &Path, secs: u64) -> R<Throughput> {
    let server = peer.server.as_str();
    let (secs_s, queries_s) = (secs.to_string(), queries.to_string_lossy().into_owned());
    let mut args: Vec<&str> = Vec::new();
    let timed = Path::new(TIME).exists();
    if timed {
        args.extend([TIME, "-f", "client-cpu %U %S"]);
    }
    args.extend([
        "dnsperf", "-s", server, "-a", src, "-d", &queries_s, "-l", &secs_s, "-c", "20", "-q", "500", "-T",
        "2", "-t", "2",
    ]);
    let cpu_before = cpu_seconds(peer.pid);
    let out = ctx(ip_netns(ns, &args).output(), &format!("dnsperf against {server}"))?;
    let cpu = cpu_seconds(peer.pid) - cpu_before;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("dnsperf against {server}: {}", out.status));
    }
    let client_cpu = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("client-cpu "))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|x| x.parse::<f64>().ok())
                .sum::<f64>()
        });
    let noerror_pct = text
        .lines()
        .find(|l| l.trim().starts_with("Response codes:"))
        .and_then(|l| l.split("NOERROR").nth(1))
        .and_then(|r| r.split('(').nth(1))
        .and_then(|r| r.split('%').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let completed = number_after(&text, "Queries completed:").unwrap_or(0.0);
    let run_time = number_after(&text, "Run time (s):").unwrap_or(secs as f64);
    Ok(Throughput {
        cpu_us: cpu * 1e6 / completed.max(1.0),
        client_load: client_cpu.map(|c| c / run_time.max(0.001)),
        qps: number_after(&text, "Queries per second:").ok_or_else(|| format!("no qps in:\n{text}"))?,
        sent: number_after(&text, "Queries sent:").unwrap_or(0.0) as u64,
        lost: number_after(&text, "Queries lost:").unwrap_or(0.0) as u64,
        noerror_pct,
    })
}

/// p50 and p99 latency in microseconds at a fixed query rate.
fn dnsperf_latency(ns: &str, server: &str, src: &str, queries: &Path, rate: u64) -> R<(f64, f64)> {
    let out = run(
        ip_netns(
            ns,
            &[
                "dnsperf",
                "-s",
                server,
                "-a",
                src,
                "-d",
                &queries.to_string_lossy(),
                "-l",
                "5",
                "-Q",
                &rate.to_string(),
                "-v",
            ],
        )
        .stderr(Stdio::null()),
        &format!("dnsperf (latency) against {server}"),
    )?;
    let mut lat: Vec<f64> = out
        .lines()
        .filter_map(|l| l.strip_prefix("> "))
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|v| v.parse::<f64>().ok())
        .map(|s| s * 1e6)
        .collect();
    if lat.is_empty() {
        return Err(format!("no latencies from dnsperf against {server}"));
    }
    lat.sort_by(f64::total_cmp);
    let pick = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Ok((pick(0.50), pick(0.99)))
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// ---------------------------------------------------------------- peers

struct Peer {
    name: &'static str,
    server: String,
    pid: u32,
    child: Option<Child>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        } else if self.pid != 0 {
            let _ = Command::new("kill").arg(self.pid.to_string()).status();
        }
    }
}

fn find_aardvark() -> Option<PathBuf> {
    ["/usr/lib/podman/aardvark-dns", "/usr/libexec/podman/aardvark-dns"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// aardvark-dns 1.4 as netavark would start it: one config file per network, listening on the
/// network's gateway (added to the asking namespace's `lo`, so queries stay on loopback).
fn start_aardvark(dir: &Path, d: &Desired, ns: &str, gateway: &str) -> R<Peer> {
    let bin = find_aardvark().ok_or("aardvark-dns is not installed (Debian package aardvark-dns)")?;
    let conf = dir.join("aardvark");
    let cfg = conf.join("aardvark-dns");
    ctx(std::fs::create_dir_all(&cfg), "creating the aardvark config dir")?;
    let mut text = format!("{gateway}\n");
    for c in &d.containers {
        let ip = ipv4(d, &c.name)?;
        let names: Vec<String> = std::iter::once(c.name.to_string())
            .chain(
                c.endpoints
                    .iter()
                    .flat_map(|e| e.aliases.iter().map(|a| a.to_string())),
            )
            .collect();
        let _ = writeln!(text, "{} {ip}  {}", c.id, names.join(","));
    }
    ctx(
        std::fs::write(cfg.join("bench"), text),
        "writing the aardvark config",
    )?;
    run(
        ip_netns(
            ns,
            &[
                &bin.to_string_lossy(),
                "--config",
                &cfg.to_string_lossy(),
                "-p",
                "53",
                "run",
            ],
        )
        .stdin(Stdio::null()),
        "starting aardvark-dns",
    )?;
    let pid = std::fs::read_to_string(cfg.join("aardvark.pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .ok_or("aardvark-dns wrote no pid file")?;
    Ok(Peer {
        name: "aardvark-dns 1.4",
        server: gateway.to_string(),
        pid,
        child: None,
    })
}

fn start_dnsmasq(dir: &Path, d: &Desired, ns: &str) -> R<Peer> {
    let hosts = dir.join("dnsmasq.hosts");
    let mut text = String::new();
    for c in &d.containers {
        let ip = ipv4(d, &c.name)?;
        let aliases: Vec<String> = c
            .endpoints
            .iter()
            .flat_map(|e| e.aliases.iter().map(|a| a.to_string()))
            .collect();
        let _ = writeln!(text, "{ip} {} {}", c.name, aliases.join(" "));
    }
    ctx(std::fs::write(&hosts, text), "writing the dnsmasq hosts file")?;
    let child = ctx(
        ip_netns(
            ns,
            &[
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                &format!("--addn-hosts={}", hosts.display()),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--port=53",
                "--user=root",
                "--cache-size=10000",
                "--log-facility=/dev/null",
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn(),
        "starting dnsmasq (Debian package dnsmasq-base)",
    )?;
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(500));
    // `ip netns exec` execs dnsmasq, so the child's pid is dnsmasq's.
    Ok(Peer {
        name: "dnsmasq 2.90",
        server: "127.0.0.1".into(),
        pid,
        child: Some(child),
    })
}

// ---------------------------------------------------------------- the benchmark

struct Namespaces {
    kernel: LinuxKernel,
    names: Vec<String>,
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self.kernel.delete_netns(n);
        }
    }
}

fn bench() -> R<()> {
    let exe =
        PathBuf::from(std::env::var("NETPLAN_BIN").map_err(|_| "set NETPLAN_BIN to the netplan executable")?);
    let n = env_num("DNS_BENCH_CONTAINERS", 1000) as usize;
    let secs = env_num("DNS_BENCH_SECONDS", 10);
    let rounds = env_num("DNS_BENCH_ROUNDS", 5).max(1);
    let rate = env_num("DNS_BENCH_RATE", 5000);
    let dir = PathBuf::from("/var/lib/netplan/bench");
    ctx(std::fs::create_dir_all(&dir), "creating the bench dir")?;
    let state = StateDir::new("/var/lib/netplan/state");
    let mut report = String::new();

    let text = topology(n);
    let desired = plan(&text)?;
    let bigger = plan(&format!(
        "{text}container c{n} {{ network bench {{ alias a{n} }} }}\n"
    ))?;
    let kernel = ctx(LinuxKernel::new(), "opening the kernel")?;
    let mut spaces = Namespaces {
        kernel,
        names: Vec::new(),
    };
    let t = Instant::now();
    for i in 0..=n {
        let ns = format!("c{i}");
        ctx(
            spaces.kernel.create_netns(&ns, &tag_for("dnsbench")),
            "creating namespaces",
        )?;
        spaces.names.push(ns);
    }
    eprintln!("{} namespaces created in {:?}", n + 1, t.elapsed());
    // Keep stray lookups of the peers inside the sandbox: their upstream is loopback.
    ctx(std::fs::create_dir_all("/etc/netns/c0"), "creating /etc/netns/c0")?;
    ctx(
        std::fs::write("/etc/netns/c0/resolv.conf", "nameserver 127.0.0.1\n"),
        "writing /etc/netns/c0/resolv.conf",
    )?;
    let gateway = "10.88.0.1";
    let src = ipv4(&desired, "c0")?.to_string();
    for a in [gateway, src.as_str()] {
        run(
            Command::new("ip").args(["-n", "c0", "addr", "add", &format!("{a}/32"), "dev", "lo"]),
            "adding addresses to c0's lo",
        )?;
    }

    // The netplan service, started the way apply starts it.
    ctx(state.save_applied(&desired), "saving the applied state")?;
    let t = Instant::now();
    let running = service::ensure_running(&state, &exe).map_err(|e| format!("{e:?}"))?;
    let start_ms = t.elapsed().as_secs_f64() * 1000.0;
    if running.status.namespaces.len() != n || !running.status.failed.is_empty() {
        return Err(format!(
            "the service serves {} namespaces ({} failed), want {n}",
            running.status.namespaces.len(),
            running.status.failed.len()
        ));
    }
    let (rss_idle, _) = memory_kib(running.pid);

    // The same query file for everyone: container names and aliases, A records, shuffled.
    let queries = dir.join("queries.txt");
    let mut q = String::new();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = x % n as u64;
        let name = if x & 1 == 0 {
            format!("c{i}")
        } else {
            format!("a{i}")
        };
        let _ = writeln!(q, "{name} A");
    }
    ctx(std::fs::write(&queries, q), "writing the query file")?;

    let mut peers: Vec<Peer> = vec![Peer {
        name: "netplan dns",
        server: netplan_runtime::dns::LISTEN_IP.to_string(),
        pid: running.pid,
        child: None,
    }];
    let mut notes = Vec::new();
    match start_aardvark(&dir, &desired, "c0", gateway) {
        Ok(p) => peers.push(p),
        Err(e) => notes.push(format!("aardvark-dns not measured: {e}")),
    }
    match start_dnsmasq(&dir, &desired, "c0") {
        Ok(p) => peers.push(p),
        Err(e) => notes.push(format!("dnsmasq not measured: {e}")),
    }

    // Throughput: rounds interleaved so drift hits every peer alike.
    let mut runs: Vec<Vec<Throughput>> = vec![Vec::new(); peers.len()];
    for round in 0..rounds {
        for (i, p) in peers.iter().enumerate() {
            let t = dnsperf_throughput("c0", p, &src, &queries, secs)?;
            eprintln!(
                "round {round} {}: {:.0} qps, {:.1} µs CPU/query, dnsperf load {}, lost {}, NOERROR {}%",
                p.name,
                t.qps,
                t.cpu_us,
                t.client_load.map_or("?".into(), |l| format!("{l:.2}")),
                t.lost,
                t.noerror_pct
            );
            runs[i].push(t);
        }
    }
    let mut latency = Vec::new();
    for p in &peers {
        latency.push(dnsperf_latency("c0", &p.server, &src, &queries, rate)?);
    }

    // Reload after adding one container to n (the namespace exists, as apply creates it first).
    let mut add_ms = Vec::new();
    let mut server_ms = Vec::new();
    for _ in 0..10 {
        ctx(state.save_applied(&bigger), "saving the bigger state")?;
        let t = Instant::now();
        let s = service::reload(&state)
            .map_err(|e| format!("{e:?}"))?
            .ok_or("the service stopped")?;
        add_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        server_ms.push(s.reload_ms);
        if (s.opened, s.closed, s.namespaces.len()) != (1, 0, n + 1) {
            return Err(format!(
                "adding one container: opened {} closed {}",
                s.opened, s.closed
            ));
        }
        ctx(state.save_applied(&desired), "saving the state")?;
        service::reload(&state).map_err(|e| format!("{e:?}"))?;
    }
    let (rss_loaded, hwm) = memory_kib(running.pid);

    let netplan_qps = median(runs[0].iter().map(|t| t.qps).collect());
    let _ = writeln!(
        report,
        "| server | queries/s (median of {rounds} × {secs} s) | netplan is | server CPU per query | dnsperf CPU load | lost | NOERROR | p50 / p99 latency at {rate} qps | memory (RSS) |"
    );
    let _ = writeln!(report, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, p) in peers.iter().enumerate() {
        let qps = median(runs[i].iter().map(|t| t.qps).collect());
        let lost: u64 = runs[i].iter().map(|t| t.lost).sum();
        let sent: u64 = runs[i].iter().map(|t| t.sent).sum();
        let noerror = median(runs[i].iter().map(|t| t.noerror_pct).collect());
        let cpu = median(runs[i].iter().map(|t| t.cpu_us).collect());
        let loads: Vec<f64> = runs[i].iter().filter_map(|t| t.client_load).collect();
        let load = if loads.is_empty() {
            "n/a".to_string()
        } else {
            format!("{:.2}", median(loads))
        };
        let (p50, p99) = latency[i];
        let (rss, _) = memory_kib(p.pid);
        let _ = writeln!(
            report,
            "| {} | {qps:.0} | {:.2}× | {cpu:.1} µs | {load} | {lost} of {sent} | {noerror:.2}% | {p50:.0} µs / {p99:.0} µs | {:.1} MiB |",
            p.name,
            netplan_qps / qps.max(1.0),
            rss as f64 / 1024.0
        );
    }
    let _ = writeln!(report);
    let _ = writeln!(
        report,
        "netplan dns with {n} served namespaces: start (bind all) {start_ms:.0} ms; RSS {:.1} MiB idle, {:.1} MiB after the runs, peak {:.1} MiB.",
        rss_idle as f64 / 1024.0,
        rss_loaded as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    let _ = writeln!(
        report,
        "Reload after adding one container to {n} (client round trip, 10 times): median {:.1} ms, max {:.1} ms (service side: median {:.1} ms).",
        median(add_ms.clone()),
        add_ms.iter().copied().fold(0.0, f64::max),
        median(server_ms)
    );
    for note in &notes {
        let _ = writeln!(report, "\n{note}");
    }
    println!("\n{report}");
    if let Ok(out) = std::env::var("DNS_BENCH_OUT") {
        ctx(std::fs::write(&out, &report), "writing DNS_BENCH_OUT")?;
    }
    drop(peers);
    service::stop(&state).map_err(|e| format!("{e:?}"))?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let inside = match sandbox::enter() {
        Ok(Sandbox::Finished(code)) => return ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Ok(Sandbox::Inside) => true,
        Ok(Sandbox::NotRoot) => false,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // A benchmark, not a test: it runs only when asked for (`--include-ignored` or `--ignored`),
    // and never outside the sandbox.
    let mut trials = Vec::new();
    if inside {
        trials.push(Trial::test("bench::dns_peers", || bench().map_err(Into::into)).with_ignored_flag(true));
    } else {
        eprintln!("note: the DNS benchmark needs root (it runs in a private namespace sandbox)");
    }
    libtest_mimic::run(&args, trials).exit_code()
}
