//! `netplan apply`, `destroy`, `ls`, `inspect`, `exec`, `stop` and `start` on the real kernel:
//! the built binary runs inside a throwaway namespace sandbox (root only; skipped otherwise).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use netplan_runtime::kernel::{Kernel, LinuxKernel, Observed, in_netns, sandbox};
use netplan_runtime::state::StateDir;

const EXE: &str = env!("CARGO_BIN_EXE_netplan");
const STATE: &str = "/var/lib/netplan/test";

type R = Result<(), String>;

fn np(args: &[&str]) -> Result<Output, String> {
    Command::new(EXE)
        .arg("--state-dir")
        .arg(STATE)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running netplan {args:?}: {e}"))
}

/// Runs netplan and requires success; returns stdout.
fn ok(args: &[&str]) -> Result<String, String> {
    let out = np(args)?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        // stderr first: a long plan on stdout must not push the error out of view.
        return Err(format!(
            "netplan {args:?} failed ({}):\n{}\n--- stdout ---\n{stdout}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(stdout)
}

fn check(cond: bool, msg: impl Into<String>) -> R {
    if cond { Ok(()) } else { Err(msg.into()) }
}

/// A private directory for topology files, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Result<Dir, String> {
        let d = std::env::temp_dir().join(format!(
            "netplan-apply-cli-{tag}-{}-{}",
            std::process::id(),
            unique()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
        Ok(Dir(d))
    }

    fn write(&self, name: &str, text: &str) -> Result<String, String> {
        let p = self.0.join(name);
        std::fs::write(&p, text).map_err(|e| e.to_string())?;
        Ok(p.display().to_string())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn kernel() -> Result<LinuxKernel, String> {
    LinuxKernel::new().map_err(|e| e.to_string())
}

fn observe(k: &LinuxKernel, ns: &[&str]) -> Result<Observed, String> {
    let names: Vec<String> = ns.iter().map(|s| s.to_string()).collect();
    k.observe(&names).map_err(|e| e.to_string())
}

/// A TCP server inside `netns` that greets every connection; it runs until the test ends.
fn serve(netns: &str, addr: &str, greeting: &'static str) -> R {
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{e}"))?;
    let listener = in_netns(netns, move || TcpListener::bind(addr))
        .and_then(|r| r)
        .map_err(|e| format!("listening on {addr} in {netns}: {e}"))?;
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(greeting.as_bytes());
        }
    });
    Ok(())
}

/// Whether a TCP connection from `netns` to `addr` gets `greeting`.
fn reaches(netns: &str, addr: &str, greeting: &str) -> bool {
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        return false;
    };
    let got = in_netns(netns, move || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(1500))?;
        s.set_read_timeout(Some(Duration::from_millis(1500)))?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    });
    matches!(got, Ok(Ok(g)) if g == greeting)
}

/// Counts of what netplan may leave: tagged links, namespaces, nft tables, /etc/netns entries,
/// processes.
fn leftovers() -> Result<(usize, usize, usize, usize, usize), String> {
    let obs = observe(&kernel()?, &[])?;
    let links = obs.host.links.iter().filter(|l| l.is_netplan()).count();
    let tables = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
        .unwrap_or(0);
    let etc = std::fs::read_dir("/etc/netns").map(|d| d.count()).unwrap_or(0);
    // Live processes of the sandbox (exited ones stay zombies: the test is their reaper, pid 1).
    let procs = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .ok()
                        .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().starts_with('Z')))
                        == Some(false)
                })
                .count()
        })
        .unwrap_or(0);
    Ok((links, obs.netns.len(), tables, etc, procs))
}

fn ps() -> String {
    Command::new("ps")
        .args(["-eo", "pid,stat,args"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default()
}

fn walkthrough(dir: &Dir) -> Result<String, String> {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let text = std::fs::read_to_string(examples.join("walkthrough.net")).map_err(|e| e.to_string())?;
    // Its after-apply hook comes along.
    std::fs::create_dir_all(dir.0.join("hooks")).map_err(|e| e.to_string())?;
    let smoke = std::fs::read_to_string(examples.join("hooks/smoke.rhai")).map_err(|e| e.to_string())?;
    dir.write("hooks/smoke.rhai", &smoke)?;
    dir.write("walkthrough.net", &text)
}

fn json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{e}: {text}"))
}

fn guide() -> R {
    let before = leftovers()?;
    let dir = Dir::new("guide")?;
    let file = walkthrough(&dir)?;
    ok(&["apply", &file])?;
    let k = kernel()?;
    let obs = observe(&k, &["container2", "container3"])?;
    let c2 = &obs.inside["container2"];
    check(
        c2.addresses_of("eth1")
            .iter()
            .any(|a| a.to_string() == "172.25.0.2/16"),
        format!("container2 eth1: {:?}", c2.addresses_of("eth1")),
    )?;
    check(
        c2.link("eth1")
            .and_then(|l| l.mac)
            .map(|m| m.to_string())
            .as_deref()
            == Some("02:42:ac:19:00:02"),
        "container2 eth1 MAC",
    )?;
    check(
        obs.inside["container3"]
            .addresses_of("eth0")
            .iter()
            .any(|a| a.to_string() == "172.25.3.3/16"),
        "container3 address",
    )?;
    serve("container1", "172.17.0.2:7001", "one")?;
    serve("container3", "172.25.3.3:7003", "three")?;
    check(
        reaches("container2", "172.17.0.2:7001", "one"),
        "container2 -> container1",
    )?;
    check(
        reaches("container2", "172.25.3.3:7003", "three"),
        "container2 -> container3",
    )?;
    check(
        !reaches("container3", "172.17.0.2:7001", "one"),
        "container3 reached container1",
    )?;
    let ping = np(&["exec", "container2", "--", "ping", "-c1", "-W2", "172.25.3.3"])?;
    check(
        ping.status.success(),
        "ping container2 -> container3 via netplan exec",
    )?;
    let fail = np(&["exec", "container3", "--", "sh", "-c", "exit 7"])?;
    check(
        fail.status.code() == Some(7),
        "exec passes the exit status through",
    )?;
    let resolv = ok(&["exec", "container2", "--", "cat", "/etc/resolv.conf"])?;
    check(
        resolv.contains("nameserver 127.0.0.11"),
        format!("resolv.conf: {resolv}"),
    )?;
    // /sys is the container's own: its interfaces, not the host's bridges.
    let sys = ok(&["exec", "container2", "--", "ls", "/sys/class/net"])?;
    let devs: Vec<&str> = sys.split_whitespace().collect();
    check(
        devs.contains(&"eth1") && !devs.iter().any(|d| d.starts_with("br-")),
        format!("/sys/class/net in container2: {devs:?}"),
    )?;

    // Idempotent: nothing changes, indexes stay.
    let again = ok(&["apply", &file])?;
    check(again.contains("No changes."), format!("second apply:\n{again}"))?;
    let obs2 = observe(&k, &["container2"])?;
    check(
        obs.host.links == obs2.host.links,
        "a no-op apply changed host links",
    )?;

    // inspect and ls
    let net = json(&ok(&["inspect", "isolated_nw"])?)?;
    let members = &net[0]["Containers"];
    let c2_entry = members
        .as_object()
        .and_then(|m| m.values().find(|v| v["Name"] == "container2"))
        .cloned()
        .unwrap_or_default();
    check(
        c2_entry["IPv4Address"] == "172.25.0.2/16",
        format!("inspect: {net}"),
    )?;
    check(
        c2_entry["MacAddress"] == "02:42:ac:19:00:02",
        format!("inspect: {net}"),
    )?;
    check(
        net[0]["IPAM"]["Config"][0]["Subnet"] == "172.25.0.0/16",
        "IPAM subnet",
    )?;
    let c3 = json(&ok(&["inspect", "--container", "container3"])?)?;
    let n = &c3[0]["NetworkSettings"]["Networks"]["isolated_nw"];
    check(n["IPAMConfig"]["IPv4Address"] == "172.25.3.3", format!("{c3}"))?;
    check(
        n["IPPrefixLen"] == 16 && n["Gateway"] == "172.25.0.1",
        format!("{c3}"),
    )?;
    // On a user-defined network the short id is an alias (Docker's too); not on bridge.
    let short3: String = c3[0]["Id"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(12)
        .collect();
    check(
        short3.len() == 12 && n["Aliases"] == serde_json::json!([short3]),
        format!("{c3}"),
    )?;
    let c2j = json(&ok(&["inspect", "--container", "container2"])?)?;
    check(
        c2j[0]["NetworkSettings"]["Networks"]["bridge"]["IPAMConfig"].is_null(),
        "IPAMConfig null",
    )?;
    check(
        c2j[0]["NetworkSettings"]["Networks"]["bridge"]["Aliases"].is_null(),
        format!("{c2j}"),
    )?;
    let ls = ok(&["ls"])?;
    check(
        ls.contains("isolated_nw") && ls.contains(" null "),
        format!("ls:\n{ls}"),
    )?;

    // Disconnect container2 from isolated_nw: it loses container3, keeps container1, and
    // nothing else is recreated.
    let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    let edited = text.replace("  network bridge\n  network isolated_nw\n", "  network bridge\n");
    check(edited != text, "edit applies")?;
    dir.write("walkthrough.net", &edited)?;
    ok(&["apply", &file])?;
    let obs3 = observe(&k, &["container2"])?;
    check(
        obs3.inside["container2"].link("eth1").is_none(),
        "eth1 still there",
    )?;
    check(
        obs3.inside["container2"].link("eth0").map(|l| l.index)
            == obs2.inside["container2"].link("eth0").map(|l| l.index),
        "container2 eth0 was recreated",
    )?;
    let kept: Vec<_> = obs2
        .host
        .links
        .iter()
        .filter(|l| obs3.host.link(&l.name).is_some())
        .collect();
    check(
        kept.len() + 1 == obs2.host.links.len(),
        "more than one host link went away",
    )?;
    check(
        kept.iter()
            .all(|l| obs3.host.link(&l.name).map(|m| m.index) == Some(l.index)),
        "a host link was recreated",
    )?;
    check(
        !reaches("container2", "172.25.3.3:7003", "three"),
        "container2 still reaches container3",
    )?;
    check(
        reaches("container2", "172.17.0.2:7001", "one"),
        "container2 lost container1",
    )?;

    // Stop and start.
    ok(&["stop", "container1"])?;
    check(
        !reaches("container2", "172.17.0.2:7001", "one"),
        "stopped container1 answers",
    )?;
    let plan = ok(&["plan", &file])?;
    check(
        plan.contains("container.container1"),
        format!("plan after stop:\n{plan}"),
    )?;
    ok(&["start", "container1"])?;
    serve("container1", "172.17.0.2:7011", "one again")?;
    check(
        reaches("container2", "172.17.0.2:7011", "one again"),
        "started container1 silent",
    )?;

    // Remove isolated_nw once its containers left it.
    let mut lines: Vec<&str> = Vec::new();
    let mut skip = false;
    for line in edited.lines() {
        if line.starts_with("network isolated_nw")
            || line.starts_with("container container3")
            || line.starts_with("container container6")
            || line.starts_with("container container7")
        {
            skip = true;
        }
        if !skip && !line.contains("network isolated_nw") {
            lines.push(line);
        }
        if skip && line == "}" {
            skip = false;
        }
    }
    dir.write("walkthrough.net", &(lines.join("\n") + "\n"))?;
    ok(&["apply", &file])?;
    let ls = ok(&["ls"])?;
    check(
        !ls.contains("isolated_nw"),
        format!("ls still lists isolated_nw:\n{ls}"),
    )?;

    ok(&["destroy", &file])?;
    let after = leftovers()?;
    check(
        after == before,
        format!("leftovers: before {before:?}, after {after:?}\n{}", ps()),
    )
}

const FEATURES: &str = "network quiet {\n  subnet 10.61.0.0/24\n  icc off\n  mtu 1400\n}\n\
network inner {\n  subnet 10.62.0.0/24\n  internal\n}\n\
network v6 {\n  subnet 10.63.0.0/24\n  subnet fd00:63::/64\n  ipv6\n}\n\
network pub {\n  subnet 10.64.0.0/24\n  masquerade off\n}\n\
container q1 { network quiet }\n\
container q2 { network quiet }\n\
container i1 { network inner }\n\
container i2 { network inner }\n\
container v6c { network v6 }\n\
container web {\n  network pub\n  publish 10.63.0.1:8080:80/tcp\n}\n\
container hostc {\n  network host\n  run \"sleep 1000\"\n}\n\
container nonec { network none }\n";

fn features() -> R {
    let before = leftovers()?;
    let dir = Dir::new("features")?;
    let file = dir.write("features.net", FEATURES)?;
    ok(&["apply", &file])?;
    let k = kernel()?;
    let obs = observe(&k, &["q1", "v6c", "nonec", "i1"])?;
    // MTU on both ends
    check(
        obs.inside["q1"].link("eth0").map(|l| l.mtu) == Some(1400),
        "q1 eth0 MTU",
    )?;
    let q1_host = obs.host.links.iter().find(|l| {
        l.master.is_some()
            && l.mtu == 1400
            && l.is_netplan()
            && l.kind == netplan_runtime::kernel::LinkKind::Veth
    });
    check(
        q1_host.is_some_and(|l| l.isolated),
        "host end of quiet: MTU 1400 and isolated",
    )?;
    // IPv6 addresses and route
    let v6 = &obs.inside["v6c"];
    check(
        v6.addresses_of("eth0")
            .iter()
            .any(|a| a.to_string() == "fd00:63::2/64"),
        format!("{:?}", v6.addresses),
    )?;
    check(
        v6.routes.iter().any(|r| r.dst.to_string() == "::/0"),
        "IPv6 default route",
    )?;
    // none: only lo; internal: no default route
    check(
        obs.inside["nonec"].links.len() == 1,
        "none network has more than lo",
    )?;
    check(
        !obs.inside["i1"].routes.iter().any(|r| r.dst.prefix_len() == 0),
        "internal default route",
    )?;
    // icc off: q1 cannot reach q2; internal members reach each other
    serve("q2", "10.61.0.3:7000", "q2")?;
    check(!reaches("q1", "10.61.0.3:7000", "q2"), "icc off let q1 reach q2")?;
    serve("i2", "10.62.0.3:7000", "i2")?;
    check(
        reaches("i1", "10.62.0.3:7000", "i2"),
        "internal members cannot talk",
    )?;
    // publish with host-ip: from another namespace through 10.63.0.1:8080
    serve("web", "10.64.0.2:80", "web")?;
    check(
        reaches("v6c", "10.63.0.1:8080", "web"),
        "published port does not answer",
    )?;
    // firewall rules: masquerade for v6's subnet, none for pub (off) or inner (internal)
    let rules = Command::new("nft")
        .args(["list", "table", "inet", "netplan"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    check(
        rules.contains("ip saddr 10.63.0.0/24") && rules.contains("masquerade"),
        rules.clone(),
    )?;
    check(
        !rules.contains("ip saddr 10.62.0.0/24") && !rules.contains("ip saddr 10.64.0.0/24"),
        rules.clone(),
    )?;
    // host network: no namespace, the run process runs
    check(obs.netns("hostc").is_none(), "host container got a namespace")?;
    let out = ok(&["exec", "hostc", "--", "true"])?;
    check(out.is_empty(), "exec in host container")?;
    let again = ok(&["apply", &file])?;
    check(again.contains("No changes."), format!("second apply:\n{again}"))?;
    ok(&["destroy", &file])?;
    let after = leftovers()?;
    check(
        after == before,
        format!("leftovers: before {before:?}, after {after:?}\n{}", ps()),
    )
}

const SMALL: &str = "network a { subnet 10.71.0.0/24 }\nnetwork b { subnet 10.72.0.0/24 }\n\
container s1 { network a }\ncontainer s2 { network a; network b }\ncontainer s3 { network b }\n";

fn drift() -> R {
    let dir = Dir::new("drift")?;
    let file = dir.write("small.net", SMALL)?;
    ok(&["apply", &file])?;
    let k = kernel()?;
    let state = StateDir::new(STATE);
    let d = state
        .applied("small")
        .map_err(|e| e.to_string())?
        .ok_or("nothing recorded")?;
    let veth = d.containers[0].endpoints[0].host_veth.clone();
    let bridge = d.networks[1].bridge.clone().ok_or("no bridge")?;
    for link in [&veth, &bridge] {
        let st = Command::new("ip")
            .args(["link", "del", link])
            .status()
            .map_err(|e| e.to_string())?;
        check(st.success(), format!("ip link del {link}"))?;
    }
    // A namespace whose `lo` is down (a crash right after it was made leaves it so).
    run_ip(&["-n", "s3", "link", "set", "dev", "lo", "down"])?;
    let plan = ok(&["apply", "--dry-run", &file])?;
    check(
        plan.contains("changed outside netplan: veth of s1 on a missing"),
        format!("plan:\n{plan}"),
    )?;
    check(
        plan.contains("changed outside netplan: lo in namespace s3 is down"),
        format!("plan:\n{plan}"),
    )?;
    check(
        plan.contains("bridge") && plan.contains("of network b missing"),
        format!("plan:\n{plan}"),
    )?;
    ok(&["apply", &file])?;
    let again = ok(&["apply", &file])?;
    check(again.contains("No changes."), format!("after repair:\n{again}"))?;
    let obs = observe(&k, &["s3"])?;
    check(
        obs.host.link(&veth).is_some() && obs.host.link(&bridge).is_some(),
        "not repaired",
    )?;
    check(
        obs.objects(Some("s3"))
            .and_then(|o| o.link("lo"))
            .is_some_and(|lo| lo.up),
        "lo in s3 still down",
    )?;
    serve("s3", "10.72.0.3:7000", "s3")?;
    check(
        reaches("s2", "10.72.0.3:7000", "s3"),
        "s2 cannot reach s3 after repair",
    )?;
    ok(&["destroy", &file])?;
    Ok(())
}

fn crash() -> R {
    let before = leftovers()?;
    let dir = Dir::new("crash")?;
    let mut text = String::from("network a { subnet 10.81.0.0/24 }\nnetwork b { subnet 10.82.0.0/24 }\n");
    for i in 0..24 {
        let net = if i % 2 == 0 { "a" } else { "b" };
        text.push_str(&format!(
            "container k{i} {{\n  network {net}\n  run \"sleep 1000\"\n}}\n"
        ));
    }
    let file = dir.write("crash.net", &text)?;
    // Kill applies and destroys at varying moments.
    for (round, delay) in [15u64, 60, 120, 35, 200, 90].into_iter().enumerate() {
        let verb = if round % 3 == 2 { "destroy" } else { "apply" };
        let mut child = Command::new(EXE)
            .args(["--state-dir", STATE, verb, &file])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
    }
    ok(&["apply", &file])?;
    let again = ok(&["apply", &file])?;
    check(again.contains("No changes."), format!("after crashes:\n{again}"))?;
    let obs = observe(&kernel()?, &[])?;
    check(obs.netns.len() == 24, format!("namespaces: {}", obs.netns.len()))?;
    let names: Vec<&str> = obs.netns.iter().map(|n| n.name.as_str()).collect();
    ok(&["destroy", &file]).map_err(|e| format!("{e}\nnamespaces before: {names:?}\n{}", ps()))?;
    let after = leftovers()?;
    check(
        after == before,
        format!("leftovers: before {before:?}, after {after:?}\n{}", ps()),
    )
}

/// What a crash while a namespace is made leaves behind: its marker alone, or the marker and
/// the mount point without a namespace on it; and links made but not yet tagged. The next
/// apply makes them again; destroy leaves nothing.
fn half_made_namespaces() -> R {
    let before = leftovers()?;
    let dir = Dir::new("halfns")?;
    let file = dir.write(
        "halfns.net",
        "network h { subnet 10.83.0.0/24 }\ncontainer h0 { network h }\ncontainer h1 { network h }\n",
    )?;
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all("/run/netplan/netns").map_err(io)?;
    std::fs::create_dir_all("/run/netns").map_err(io)?;
    for ns in ["h0", "h1"] {
        std::fs::write(format!("/run/netplan/netns/{ns}"), "netplan:halfns\n").map_err(io)?;
    }
    std::fs::write("/run/netns/h1", "").map_err(io)?;
    ok(&["apply", &file])?;
    let again = ok(&["apply", &file])?;
    check(
        again.contains("No changes."),
        format!("after half-made namespaces:\n{again}"),
    )?;
    let obs = observe(&kernel()?, &["h0", "h1"])?;
    check(
        obs.inside.len() == 2 && obs.inside.values().all(|o| o.link("eth0").is_some()),
        format!("namespaces: {:?}", obs.inside.keys().collect::<Vec<_>>()),
    )?;
    // Links interrupted before they got their tag: untagged, with the record of their
    // creation. They are made again; without the record they would be foreign.
    let mine: Vec<String> = obs
        .host
        .links
        .iter()
        .filter(|l| l.topology() == Some("halfns"))
        .map(|l| l.name.clone())
        .collect();
    check(mine.len() == 3, format!("bridge and veths: {mine:?}"))?;
    std::fs::create_dir_all("/run/netplan/links").map_err(io)?;
    for name in &mine {
        let st = Command::new("ip")
            .args(["link", "set", "dev", name, "alias", ""])
            .status()
            .map_err(io)?;
        check(st.success(), format!("untagging {name}"))?;
        std::fs::write(format!("/run/netplan/links/{name}"), "netplan:halfns\n").map_err(io)?;
    }
    repaired_then_unchanged(&file, "after unfinished links")?;
    let obs = observe(&kernel()?, &[])?;
    let tagged = obs
        .host
        .links
        .iter()
        .filter(|l| l.topology() == Some("halfns") && !l.unfinished)
        .count();
    let records = pending_records();
    check(
        tagged == 3 && records == 0,
        format!("tagged {tagged}, records {records}"),
    )?;
    // A pair interrupted between tagging its two ends, or before either: the peer inside the
    // namespace is untagged. The record names the peer, so apply makes the pair again instead
    // of refusing the peer as foreign.
    let obs = observe(&kernel()?, &[])?;
    for (ns, host_untagged_too) in [("h0", false), ("h1", true)] {
        let host_end = host_end_of(&obs, ns)?;
        run_ip(&["-n", ns, "link", "set", "dev", "eth0", "alias", ""])?;
        if host_untagged_too {
            run_ip(&["link", "set", "dev", &host_end, "alias", ""])?;
        }
        std::fs::write(
            format!("/run/netplan/links/{host_end}"),
            format!("netplan:halfns\n{ns} eth0\n"),
        )
        .map_err(io)?;
    }
    repaired_then_unchanged(&file, "after half-tagged pairs")?;
    let obs = observe(&kernel()?, &["h0", "h1"])?;
    let peers_tagged = obs
        .inside
        .values()
        .filter(|o| o.link("eth0").is_some_and(|l| l.topology() == Some("halfns")))
        .count();
    let records = pending_records();
    check(
        peers_tagged == 2 && records == 0,
        format!("peers tagged {peers_tagged}, records {records}"),
    )?;
    // A record left by a netplan killed before it made the link: the next apply forgets it,
    // so a foreign link that later takes that name stays foreign.
    std::fs::write("/run/netplan/links/vnpstale0", "netplan:halfns\n").map_err(io)?;
    ok(&["apply", &file])?;
    check(
        !Path::new("/run/netplan/links/vnpstale0").exists(),
        "the stale record is still there",
    )?;
    run_ip(&["link", "add", "vnpstale0", "type", "bridge"])?;
    let obs = observe(&kernel()?, &[])?;
    let stale = obs.host.link("vnpstale0").map(|l| (l.is_netplan(), l.unfinished));
    run_ip(&["link", "del", "vnpstale0"])?;
    check(
        stale == Some((false, false)),
        format!("foreign link seen as {stale:?}"),
    )?;
    ok(&["destroy", &file])?;
    let after = leftovers()?;
    check(
        after == before,
        format!("leftovers: before {before:?}, after {after:?}"),
    )
}

/// Creation records left in `/run/netplan/links`.
fn pending_records() -> usize {
    std::fs::read_dir("/run/netplan/links")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// An apply that repairs something, then one that finds nothing to do.
fn repaired_then_unchanged(file: &str, after: &str) -> R {
    let repaired = ok(&["apply", file])?;
    check(repaired.contains("Apply complete!"), repaired.clone())?;
    let again = ok(&["apply", file])?;
    check(again.contains("No changes."), format!("{after}:\n{again}"))
}

fn run_ip(args: &[&str]) -> R {
    let st = Command::new("ip")
        .args(args)
        .status()
        .map_err(|e| e.to_string())?;
    check(st.success(), format!("ip {args:?}"))
}

/// The host end of the veth pair whose peer is `eth0` in `ns` (`ip` shows it as `eth0@ifN`).
fn host_end_of(obs: &Observed, ns: &str) -> Result<String, String> {
    let out = Command::new("ip")
        .args(["-o", "-n", ns, "link", "show", "dev", "eth0"])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let index: u32 = text
        .split_once("@if")
        .and_then(|(_, rest)| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no peer index in {text:?}"))?;
    obs.host
        .links
        .iter()
        .find(|l| l.index == index)
        .map(|l| l.name.clone())
        .ok_or_else(|| format!("no host link with index {index}"))
}

fn foreign_and_concurrent() -> R {
    let dir = Dir::new("foreign")?;
    let file = dir.write(
        "fx.net",
        "network f { subnet 10.91.0.0/24\n bridge br-foreign }\ncontainer f1 { network f }\n",
    )?;
    let st = Command::new("ip")
        .args(["link", "add", "br-foreign", "type", "bridge"])
        .status()
        .map_err(|e| e.to_string())?;
    check(st.success(), "ip link add")?;
    let out = np(&["apply", &file])?;
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    check(
        !out.status.success() && err.contains("bridge br-foreign"),
        format!("foreign bridge: {err}"),
    )?;
    check(
        observe(&kernel()?, &[])?.netns.is_empty(),
        "something was created",
    )?;
    let _ = Command::new("ip").args(["link", "del", "br-foreign"]).status();

    // Two applies at once: the second waits for the first; both succeed.
    let one = dir.write(
        "one.net",
        "network x { subnet 10.92.0.0/24 }\ncontainer x1 { network x }\n",
    )?;
    let two = dir.write(
        "two.net",
        "network y { subnet 10.93.0.0/24 }\ncontainer y1 { network y }\n",
    )?;
    let spawn = |f: &str| {
        Command::new(EXE)
            .args(["--state-dir", STATE, "apply", f])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
    };
    let a = spawn(&one).map_err(|e| e.to_string())?;
    let b = spawn(&two).map_err(|e| e.to_string())?;
    let (a, b) = (a.wait_with_output(), b.wait_with_output());
    check(
        a.is_ok_and(|o| o.status.success()) && b.is_ok_and(|o| o.status.success()),
        "concurrent applies failed",
    )?;
    // A held lock and a short timeout: a clear failure.
    let state = StateDir::new(STATE);
    let held = state
        .lock(Duration::from_secs(5), || {})
        .map_err(|e| e.to_string())?;
    let out = np(&["apply", "--lock-timeout", "1", &one])?;
    drop(held);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    check(
        !out.status.success() && err.contains("another netplan process"),
        format!("busy: {err}"),
    )?;
    ok(&["destroy", &one])?;
    ok(&["destroy", &two])?;

    // Two topologies on the default bridge, which they share: the second one's container
    // gets an address the first one's does not hold (both would otherwise take .2).
    let s1 = dir.write("shared1.net", "container s1 {}\n")?;
    let s2 = dir.write("shared2.net", "container s2 {}\n")?;
    ok(&["apply", &s1])?;
    ok(&["apply", &s2])?;
    let obs = observe(&kernel()?, &["s1", "s2"])?;
    let has = |ns: &str, want: &str| {
        obs.inside
            .get(ns)
            .is_some_and(|o| o.addresses_of("eth0").iter().any(|a| a.to_string() == want))
    };
    check(
        has("s1", "172.17.0.2/16") && has("s2", "172.17.0.3/16"),
        "shared default bridge: s1 should have 172.17.0.2, s2 172.17.0.3",
    )?;
    ok(&["destroy", &s2])?;
    ok(&["destroy", &s1])?;
    Ok(())
}

fn run(name: &str, body: fn() -> R) {
    sandbox::run_test(name, || {
        if let Err(e) = body() {
            panic!("{e}");
        }
    });
}

#[test]
fn guide_end_to_end() {
    run("guide_end_to_end", guide);
}

#[test]
fn icc_internal_masquerade_publish_mtu_ipv6_host_none() {
    run("icc_internal_masquerade_publish_mtu_ipv6_host_none", features);
}

#[test]
fn drift_is_shown_and_repaired() {
    run("drift_is_shown_and_repaired", drift);
}

#[test]
fn killed_applies_converge_without_leaks() {
    run("killed_applies_converge_without_leaks", crash);
}

#[test]
fn half_made_namespaces_are_made_again() {
    run("half_made_namespaces_are_made_again", half_made_namespaces);
}

#[test]
fn foreign_objects_and_concurrent_applies() {
    run("foreign_objects_and_concurrent_applies", foreign_and_concurrent);
}

/// Tells apart runs that share `/tmp`: inside the kernel sandbox every test process is pid 1.
fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}
