//! Embedded DNS tests: real queries asked from inside container namespaces, answered by the
//! service running in-process, inside a throwaway namespace sandbox
//! (`netplan_runtime::kernel::sandbox`). Without root the namespace tests are reported as
//! ignored; the pure ones (resolv.conf, legacy /etc/hosts) run everywhere.
//!
//! Namespaces are created (with `lo` up) but no veths: every query goes to 127.0.0.11 inside the
//! asking container's namespace. Upstream resolution goes to a small hickory server on
//! 127.0.0.1 inside the sandbox; nothing leaves it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use libtest_mimic::{Arguments, Trial};
use netplan_runtime::desired::Desired;
use netplan_runtime::dns::control::Status;
use netplan_runtime::dns::forward::Forwarder;
use netplan_runtime::dns::probe::{self, Question, Reply};
use netplan_runtime::dns::{Config, Engine, resolv_conf};
use netplan_runtime::ipam::HostReserved;
use netplan_runtime::kernel::sandbox::{self, Sandbox};
use netplan_runtime::kernel::{Kernel, LinuxKernel, tag_for};
use netplan_runtime::lock::Lock;
use netplan_runtime::planning::against_applied;
use netplan_runtime::state::StateDir;

type TestResult = Result<(), String>;

const TAG: &str = "dnstest";
const UPSTREAM_PORT: u16 = 5300;
const DNS: SocketAddr = SocketAddr::new(IpAddr::V4(netplan_runtime::dns::LISTEN_IP), 53);
const ASK_TIMEOUT: Duration = Duration::from_secs(3);
/// The forwarding deadline the tests configure.
const DEADLINE: Duration = Duration::from_millis(800);

fn check(cond: bool, msg: impl Into<String>) -> TestResult {
    if cond { Ok(()) } else { Err(msg.into()) }
}

fn ctx<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

// ---------------------------------------------------------------- topologies

fn plan(text: &str, name: &str) -> Result<Desired, String> {
    let checked = netplan_lang::check::check_text(text, name);
    let topo = checked
        .topology
        .ok_or_else(|| format!("topology {name} has errors: {:?}", checked.diags))?;
    against_applied(&topo, &Lock::default(), None, &HostReserved::default())
        .map(|p| p.allocated.desired)
        .map_err(|d| format!("planning {name}: {d:?}"))
}

fn walkthrough_text() -> Result<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/walkthrough.net");
    ctx(std::fs::read_to_string(&path), "reading examples/walkthrough.net")
}

fn walkthrough() -> Result<Desired, String> {
    plan(&walkthrough_text()?, "walkthrough")
}

/// The address of container `c` on network `net` in `d` (IPv4, else IPv6).
fn addr(d: &Desired, c: &str, net: &str) -> Result<IpAddr, String> {
    let e = d
        .container(c)
        .and_then(|c| c.endpoints.iter().find(|e| e.network == net))
        .ok_or_else(|| format!("{c} is not on {net}"))?;
    e.ipv4
        .map(|n| IpAddr::V4(n.addr()))
        .or(e.ipv6.map(|n| IpAddr::V6(n.addr())))
        .ok_or_else(|| format!("{c} has no address on {net}"))
}

fn addr6(d: &Desired, c: &str, net: &str) -> Result<IpAddr, String> {
    d.container(c)
        .and_then(|c| c.endpoints.iter().find(|e| e.network == net))
        .and_then(|e| e.ipv6)
        .map(|n| IpAddr::V6(n.addr()))
        .ok_or_else(|| format!("{c} has no IPv6 address on {net}"))
}

fn container_mut<'d>(d: &'d mut Desired, name: &str) -> &'d mut netplan_runtime::desired::ContainerState {
    d.containers
        .iter_mut()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("test topology has no container {name}"))
}

// ---------------------------------------------------------------- a test upstream resolver

/// Answers `up.example` (A 192.0.2.7), `gone.example` (NXDOMAIN), every name in `bait`
/// (A [`BAIT_IP`]: what a leak would look like) and never answers `silent.example`; records
/// every name it is asked.
#[derive(Clone, Default)]
struct UpHandler {
    seen: Arc<Mutex<Vec<String>>>,
    /// Lower-cased, with the trailing dot.
    bait: Arc<Mutex<Vec<String>>>,
}

/// The upstream's answer to a bait name.
const BAIT_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 66));

#[async_trait::async_trait]
impl RequestHandler for UpHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut rh: R,
    ) -> ResponseInfo {
        let fail = ResponseInfo::from(Header {
            metadata: Metadata::response_from_request(&request.metadata),
            counts: HeaderCounts::default(),
        });
        let Ok(info) = request.request_info() else {
            return fail;
        };
        let name = info.query.name().to_string();
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(name.clone());
        }
        let builder = MessageResponseBuilder::from_message_request(request);
        let mut md = Metadata::response_from_request(&request.metadata);
        md.recursion_available = true;
        let lower = name.to_ascii_lowercase();
        if self.bait.lock().is_ok_and(|b| b.contains(&lower)) {
            let owner = info.query.original().name().clone();
            let rec = Record::from_rdata(owner, 30, RData::A(A::new(192, 0, 2, 66)));
            return rh
                .send_response(builder.build(md, [rec].iter(), &[], &[], &[]))
                .await
                .unwrap_or(fail);
        }
        let sent = match name.as_str() {
            "up.example." => {
                let owner = info.query.original().name().clone();
                let rec = Record::from_rdata(owner, 30, RData::A(A::new(192, 0, 2, 7)));
                rh.send_response(builder.build(md, [rec].iter(), &[], &[], &[]))
                    .await
            }
            "silent.example." => std::future::pending().await,
            "gone.example." => {
                md.response_code = ResponseCode::NXDomain;
                rh.send_response(builder.build_no_records(md)).await
            }
            _ => {
                md.response_code = ResponseCode::Refused;
                rh.send_response(builder.build_no_records(md)).await
            }
        };
        sent.unwrap_or(fail)
    }
}

struct Upstream {
    server: Server<UpHandler>,
    seen: Arc<Mutex<Vec<String>>>,
    bait: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    /// Serves on 127.0.0.1:`port` (UDP and TCP) in the sandbox's own namespace.
    async fn start(port: u16) -> Result<Upstream, String> {
        let handler = UpHandler::default();
        let seen = handler.seen.clone();
        let bait = handler.bait.clone();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let udp = ctx(
            tokio::net::UdpSocket::bind(addr).await,
            "binding the test upstream (UDP)",
        )?;
        let tcp = ctx(
            tokio::net::TcpListener::bind(addr).await,
            "binding the test upstream (TCP)",
        )?;
        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 16);
        Ok(Upstream { server, seen, bait })
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

// ---------------------------------------------------------------- the lab

/// A state directory, one namespace per container, the service in-process, a test upstream.
struct Lab {
    rt: tokio::runtime::Runtime,
    engine: Option<Engine>,
    config: Config,
    state: StateDir,
    dir: PathBuf,
    desired: Desired,
    kernel: LinuxKernel,
    namespaces: Vec<String>,
    upstream: Option<Upstream>,
}

impl Lab {
    fn new(desired: Desired) -> Result<Lab, String> {
        let rt = ctx(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build(),
            "creating a tokio runtime",
        )?;
        let dir = PathBuf::from("/var/lib/netplan").join(format!("lab-{}", desired.topology));
        let _ = std::fs::remove_dir_all(&dir);
        ctx(std::fs::create_dir_all(&dir), "creating the lab directory")?;
        let resolv = dir.join("resolv.conf");
        ctx(
            std::fs::write(&resolv, "nameserver 127.0.0.1\nsearch test.example\n"),
            "writing the lab resolv.conf",
        )?;
        let upstream = rt.block_on(Upstream::start(UPSTREAM_PORT))?;
        let config = Config {
            listen_port: 53,
            forwarder: Forwarder {
                port: UPSTREAM_PORT,
                deadline: DEADLINE,
            },
            resolv_conf: resolv,
        };
        let kernel = ctx(LinuxKernel::new(), "opening the kernel")?;
        let state = StateDir::new(dir.join("state"));
        let mut lab = Lab {
            rt,
            engine: None,
            config: config.clone(),
            state: state.clone(),
            dir,
            desired,
            kernel,
            namespaces: Vec::new(),
            upstream: Some(upstream),
        };
        let names: Vec<String> = lab
            .desired
            .containers
            .iter()
            .filter_map(|c| c.netns().map(str::to_string))
            .collect();
        for ns in names {
            lab.add_netns(&ns)?;
        }
        ctx(lab.state.save_applied(&lab.desired), "saving the applied state")?;
        lab.engine = Some(Engine::new(state, config));
        let status = lab.reload();
        check(
            status.failed.is_empty(),
            format!("namespaces not served: {:?}", status.failed),
        )?;
        Ok(lab)
    }

    fn add_netns(&mut self, ns: &str) -> TestResult {
        ctx(
            self.kernel.create_netns(ns, &tag_for(TAG)),
            &format!("creating namespace {ns}"),
        )?;
        self.namespaces.push(ns.to_string());
        Ok(())
    }

    fn reload(&mut self) -> Status {
        match self.engine.as_mut() {
            Some(e) => self.rt.block_on(e.reload()),
            None => Status::default(),
        }
    }

    /// Changes the recorded state, then reloads (what apply does after a change).
    fn edit(&mut self, f: impl FnOnce(&mut Desired)) -> Result<Status, String> {
        f(&mut self.desired);
        ctx(self.state.save_applied(&self.desired), "saving the applied state")?;
        Ok(self.reload())
    }

    fn ask(&self, from: &str, q: &Question) -> Result<Reply, String> {
        ctx(
            probe::ask(Some(from), DNS, q, ASK_TIMEOUT),
            &format!("{from} asking {} {:?}", q.name, q.rtype),
        )
    }

    fn a(&self, from: &str, name: &str) -> Result<Reply, String> {
        self.ask(from, &Question::udp(name, RecordType::A))
    }

    fn ip(&self, c: &str, net: &str) -> Result<IpAddr, String> {
        addr(&self.desired, c, net)
    }

    fn expect(&self, from: &str, name: &str, want: &[IpAddr]) -> TestResult {
        let r = self.a(from, name)?;
        check(
            r.code() == ResponseCode::NoError && r.ips() == want,
            format!("{from} asks {name}: got {}, want {want:?}", r.describe()),
        )
    }

    /// `from` gets `name` answered with `c`'s address on `net`.
    fn expect_on(&self, from: &str, name: &str, c: &str, net: &str) -> TestResult {
        self.expect(from, name, &[self.ip(c, net)?])
    }

    /// NXDOMAIN at once, and the upstream never saw the name.
    fn expect_nx(&self, from: &str, name: &str) -> TestResult {
        self.expect_nx_type(from, name, RecordType::A)
    }

    /// NXDOMAIN at once for `name` of type `rtype`, and the upstream never saw the name.
    fn expect_nx_type(&self, from: &str, name: &str, rtype: RecordType) -> TestResult {
        let start = Instant::now();
        let r = self.ask(from, &Question::udp(name, rtype))?;
        let took = start.elapsed();
        check(
            r.code() == ResponseCode::NXDomain,
            format!(
                "{from} asks {name} {rtype:?}: got {}, want NXDOMAIN",
                r.describe()
            ),
        )?;
        check(
            took < DEADLINE,
            format!("{from} asks {name}: NXDOMAIN took {took:?}, it must not wait for an upstream"),
        )?;
        let leaked = self
            .upstream_seen()
            .iter()
            .any(|s| s.trim_end_matches('.').eq_ignore_ascii_case(name));
        check(!leaked, format!("{name} was forwarded upstream"))
    }

    /// Makes the test upstream answer `names` (A [`BAIT_IP`]).
    fn upstream_answers(&self, names: &[&str]) {
        if let Some(Ok(mut bait)) = self.upstream.as_ref().map(|u| u.bait.lock()) {
            bait.extend(names.iter().map(|n| format!("{}.", n.to_ascii_lowercase())));
        }
    }

    fn upstream_seen(&self) -> Vec<String> {
        self.upstream.as_ref().map(Upstream::seen).unwrap_or_default()
    }

    /// Stops the in-process service and starts a fresh one on the same state (a restart).
    fn restart(&mut self) -> Status {
        if let Some(e) = self.engine.take() {
            self.rt.block_on(e.shutdown());
        }
        self.engine = Some(Engine::new(self.state.clone(), self.config.clone()));
        self.reload()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(e) = self.engine.take() {
            self.rt.block_on(e.shutdown());
        }
        if let Some(mut up) = self.upstream.take() {
            let _ = self.rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(1), up.server.shutdown_gracefully()).await
            });
        }
        for ns in self.namespaces.iter().rev() {
            let _ = self.kernel.delete_netns(ns);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------- the guide's story

/// The first 12 hex of a container's id.
fn short_id(lab: &Lab, container: &str) -> Result<String, String> {
    lab.desired
        .container(container)
        .map(|c| c.id.short())
        .ok_or_else(|| format!("no container {container}"))
}

fn guide_story() -> TestResult {
    let mut lab = Lab::new(walkthrough()?)?;
    // "Connect containers": container2 reaches container3 by name on isolated_nw …
    lab.expect_on("container2", "container3", "container3", "isolated_nw")?;
    check(
        lab.ip("container3", "isolated_nw")? == "172.25.3.3".parse::<IpAddr>().map_err(|e| e.to_string())?,
        "container3's static address is the guide's",
    )?;
    // … and by its 12-hex short id, as Docker serves it on user-defined networks …
    lab.expect_on(
        "container2",
        &short_id(&lab, "container3")?,
        "container3",
        "isolated_nw",
    )?;
    // … but not container1, which is only on the default bridge, by name or short id.
    lab.expect_nx("container2", "container1")?;
    lab.expect_nx("container2", &short_id(&lab, "container1")?)?;
    // container1 itself gets no embedded DNS (legacy behaviour): nothing listens there.
    check(
        probe::ask(
            Some("container1"),
            DNS,
            &Question::udp("container2", RecordType::A),
            ASK_TIMEOUT,
        )
        .is_err(),
        "container1 (default bridge only) must have no embedded DNS server",
    )?;
    // "Linking containers in user-defined networks".
    lab.expect_on("container4", "c5", "container5", "isolated_nw")?;
    lab.expect_on("container4", "container5", "container5", "isolated_nw")?;
    lab.expect_on("container5", "c4", "container4", "isolated_nw")?;
    lab.expect_on("container5", "container4", "container4", "isolated_nw")?;
    // A link alias is the linking container's alone.
    lab.expect_nx("container6", "c5")?;
    lab.expect_nx("container5", "c5")?;
    // On local_alias: foo from container4, bar from container5, each on that network.
    lab.expect_on("container4", "foo", "container5", "local_alias")?;
    lab.expect_on("container5", "bar", "container4", "local_alias")?;
    lab.expect_nx("container5", "foo")?;
    // NAME.NETWORK picks the network.
    lab.expect_on(
        "container4",
        "container5.local_alias",
        "container5",
        "local_alias",
    )?;
    lab.expect_on(
        "container4",
        "container5.isolated_nw",
        "container5",
        "isolated_nw",
    )?;
    // "Network-scoped alias": scoped-app lives on local_alias only.
    lab.expect_on("container4", "scoped-app", "container6", "local_alias")?;
    lab.expect_nx("container2", "scoped-app")?;
    lab.expect_nx("container7", "scoped-app")?;
    // The guide says container5 is "connected only to isolated_nw" at this point; the file keeps
    // it on local_alias too (its links there are shown earlier), where scoped-app does resolve.
    lab.expect_on("container5", "scoped-app", "container6", "local_alias")?;
    let only_isolated = lab.edit(|d| {
        container_mut(d, "container5")
            .endpoints
            .retain(|e| e.network == "isolated_nw");
    })?;
    check(
        only_isolated.error.is_none(),
        format!("{:?}", only_isolated.error),
    )?;
    lab.expect_nx("container5", "scoped-app")?;
    lab.expect_on("container5", "app", "container6", "isolated_nw")?;
    // `app` is backed by container6 (declared first), then by container7.
    lab.expect_on("container4", "app", "container6", "isolated_nw")?;
    lab.edit(|d| container_mut(d, "container6").stopped = true)?;
    lab.expect_on("container4", "app", "container7", "isolated_nw")?;
    lab.expect_nx("container4", "container6")?;
    lab.expect_nx("container4", "scoped-app")?;
    lab.edit(|d| container_mut(d, "container6").stopped = false)?;
    lab.expect_on("container4", "app", "container6", "isolated_nw")?;
    lab.expect_on("container4", "scoped-app", "container6", "local_alias")?;
    // redis on my-network: resolvable only there.
    lab.expect_nx("container4", "redis")?;
    lab.expect_on("redis", "redis", "redis", "my-network")?;
    Ok(())
}

/// The guide's "disconnect isolated_nw container5": c5 fails from container4, foo still works;
/// the names vanish on that network only.
fn guide_disconnect() -> TestResult {
    let mut lab = Lab::new(walkthrough()?)?;
    lab.expect_on("container4", "c5", "container5", "isolated_nw")?;
    lab.expect_on("container2", "container5", "container5", "isolated_nw")?;
    lab.edit(|d| {
        container_mut(d, "container5")
            .endpoints
            .retain(|e| e.network != "isolated_nw");
    })?;
    lab.expect_nx("container4", "c5")?;
    lab.expect_on("container4", "foo", "container5", "local_alias")?;
    // Still a name on local_alias, which container4 shares.
    lab.expect_on("container4", "container5", "container5", "local_alias")?;
    lab.expect_nx("container4", "container5.isolated_nw")?;
    // Its short id too, through local_alias.
    lab.expect_on(
        "container4",
        &short_id(&lab, "container5")?,
        "container5",
        "local_alias",
    )?;
    // container2 shares only isolated_nw with it.
    lab.expect_nx("container2", "container5")?;
    lab.expect_nx("container2", &short_id(&lab, "container5")?)?;
    // container5 no longer sees isolated_nw names, but keeps its local_alias link.
    lab.expect_nx("container5", "container3")?;
    lab.expect_nx("container5", "container4.isolated_nw")?;
    lab.expect_on("container5", "container4", "container4", "local_alias")?;
    lab.expect_on("container5", "bar", "container4", "local_alias")?;
    // Its link c4 went with the endpoint: no longer a netplan name, it is asked upstream like
    // any other name.
    let r = lab.a("container5", "c4")?;
    check(
        r.ips().is_empty(),
        format!("c4 after the disconnect: {}", r.describe()),
    )?;
    check(
        lab.upstream_seen().iter().any(|s| s == "c4."),
        "c4 is an ordinary name after the disconnect",
    )?;
    // Connect again: everything is back.
    let again = walkthrough()?;
    lab.edit(|d| *d = again)?;
    lab.expect_on("container4", "c5", "container5", "isolated_nw")?;
    lab.expect_on("container2", "container5", "container5", "isolated_nw")?;
    Ok(())
}

// ---------------------------------------------------------------- names

const DUAL: &str = "
    network dual { ipv6; subnet 10.40.0.0/24; subnet fd40::/64 }
    network v4only { subnet 10.41.0.0/24 }
    container Web { network dual; network v4only }
    container db { network dual { alias Store }; network v4only }
";

fn case_aaaa_ptr() -> TestResult {
    let lab = Lab::new(plan(DUAL, "dual")?)?;
    let d = lab.desired.clone();
    // Case-insensitive both ways; the answer echoes the question's spelling.
    lab.expect("db", "WEB", &[addr(&d, "Web", "dual")?])?;
    lab.expect("db", "web.DUAL", &[addr(&d, "Web", "dual")?])?;
    lab.expect("Web", "store", &[addr(&d, "db", "dual")?])?;
    let r = lab.a("db", "wEb")?;
    let owner = r.message.answers.first().map(|rec| rec.name.to_string());
    check(owner.as_deref() == Some("wEb."), format!("owner name {owner:?}"))?;
    // AAAA from the IPv6 network.
    let r = lab.ask("db", &Question::udp("web", RecordType::AAAA))?;
    check(
        r.ips() == [addr6(&d, "Web", "dual")?],
        format!("AAAA web: {}", r.describe()),
    )?;
    // A name that exists, but not with IPv6 on the network it is found on: empty NOERROR.
    let r = lab.ask("db", &Question::udp("web.v4only", RecordType::AAAA))?;
    check(
        r.code() == ResponseCode::NoError && r.ips().is_empty(),
        format!("AAAA web.v4only: {}", r.describe()),
    )?;
    // PTR for every container address → name.network.
    for (c, net, ip) in [
        ("Web", "dual", addr(&d, "Web", "dual")?),
        ("Web", "v4only", addr(&d, "Web", "v4only")?),
        ("Web", "dual", addr6(&d, "Web", "dual")?),
    ] {
        let r = lab.ask("db", &Question::udp(&reverse_name(ip), RecordType::PTR))?;
        check(
            r.ptrs() == [format!("{c}.{net}.")],
            format!("PTR {ip}: {}", r.describe()),
        )?;
    }
    Ok(())
}

fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let hex = format!("{:032x}", u128::from(v6));
            let nibbles: Vec<String> = hex.chars().rev().map(String::from).collect();
            format!("{}.ip6.arpa", nibbles.join("."))
        }
    }
}

fn alias_mode_all() -> TestResult {
    let text = "
        network pool { subnet 10.42.0.0/24; alias-mode all }
        container s1 { network pool { alias svc } }
        container s2 { network pool { alias svc } }
        container s3 { network pool { alias svc } }
        container client { network pool }
    ";
    let mut lab = Lab::new(plan(text, "pool")?)?;
    let mut want: Vec<IpAddr> = ["s1", "s2", "s3"]
        .iter()
        .map(|c| lab.ip(c, "pool"))
        .collect::<Result<_, _>>()?;
    want.sort();
    let mut orders = std::collections::HashSet::new();
    for _ in 0..40 {
        let r = lab.a("client", "svc")?;
        let mut got = r.ips();
        orders.insert(got.clone());
        got.sort();
        check(
            got == want,
            format!("svc: {}, want all of {want:?}", r.describe()),
        )?;
    }
    check(orders.len() > 1, "alias-mode all must shuffle the backers")?;
    lab.edit(|d| container_mut(d, "s2").stopped = true)?;
    let r = lab.a("client", "svc")?;
    let mut got = r.ips();
    got.sort();
    let mut live = vec![lab.ip("s1", "pool")?, lab.ip("s3", "pool")?];
    live.sort();
    check(got == live, format!("svc after s2 stopped: {}", r.describe()))
}

/// A link answers the target's current address, and vanishes while the target is not there.
fn links_follow_target() -> TestResult {
    let text = "
        network n { subnet 10.43.0.0/24 }
        container user { network n { link target as db } }
        container target { network n { ip 10.43.0.50 } }
    ";
    let mut lab = Lab::new(plan(text, "links")?)?;
    lab.expect("user", "db", &["10.43.0.50".parse().map_err(|e| format!("{e}"))?])?;
    // The target moves (restart with another address).
    let moved = plan(&text.replace("10.43.0.50", "10.43.0.77"), "links")?;
    lab.edit(|d| *d = moved)?;
    lab.expect("user", "db", &["10.43.0.77".parse().map_err(|e| format!("{e}"))?])?;
    lab.edit(|d| container_mut(d, "target").stopped = true)?;
    lab.expect_nx("user", "db")?;
    lab.edit(|d| container_mut(d, "target").stopped = false)?;
    lab.expect("user", "db", &["10.43.0.77".parse().map_err(|e| format!("{e}"))?])
}

/// Every name the topology defines that the asker may not see (a link alias whose target is not
/// on the link's network, in any form; a stopped container's names and address; a disconnected
/// endpoint's `NAME.NETWORK`) is NXDOMAIN at once and never reaches the upstream, although the
/// upstream would answer it. Names the topology does not define still go upstream.
fn out_of_sight_never_forwarded() -> TestResult {
    let apart = "
        network n { subnet 10.48.0.0/24 }
        network m { subnet 10.49.0.0/24 }
        container user { network n { link target as db }; network m }
        container target { network m }
        container other { network n }
    ";
    let joined = apart.replace(
        "container target { network m }",
        "container target { network m; network n }",
    );
    let mut lab = Lab::new(plan(apart, "sight")?)?;
    let target_m = lab.ip("target", "m")?;
    let ptr = reverse_name(target_m);
    let names = [
        "db",
        "db.n",
        "db.m",
        "target",
        "target.n",
        "target.m",
        "user.m",
        "db.example",
        &ptr,
    ];
    lab.upstream_answers(&names);
    // The link's target is not on n: its alias answers nothing, in any spelling or form.
    for q in ["db", "DB", "db.n", "Db.N", "db.m", "target.n", "TARGET.n"] {
        lab.expect_nx("user", q)?;
    }
    lab.expect_on("user", "target.m", "target", "m")?;
    lab.expect_on("user", "Target", "target", "m")?;
    // other shares only n with user, and declared no link.
    for q in ["db", "db.n", "target", "target.m", "user.m"] {
        lab.expect_nx("other", q)?;
    }
    // A name the topology does not define still goes upstream, and its answer is relayed.
    lab.expect("user", "db.example", &[BAIT_IP])?;
    // target joins n: the link answers, for user alone.
    let joined = plan(&joined, "sight")?;
    lab.edit(|d| *d = joined)?;
    for q in ["db", "db.n", "DB.N"] {
        lab.expect_on("user", q, "target", "n")?;
    }
    lab.expect_nx("user", "db.m")?;
    lab.expect_nx("other", "db")?;
    lab.expect_on("other", "target", "target", "n")?;
    // target stops: every one of its names, and its address, is NXDOMAIN.
    lab.edit(|d| container_mut(d, "target").stopped = true)?;
    for q in ["db", "db.n", "target", "target.n", "target.m"] {
        lab.expect_nx("user", q)?;
    }
    lab.expect_nx("other", "target")?;
    lab.expect_nx_type("user", &ptr, RecordType::PTR)?;
    // target starts again, then is disconnected from n (recorded as apply records it: the
    // endpoint and its records are gone).
    lab.edit(|d| container_mut(d, "target").stopped = false)?;
    lab.expect_on("user", "db", "target", "n")?;
    let apart = plan(apart, "sight")?;
    lab.edit(|d| *d = apart)?;
    for q in ["db", "db.n", "target.n"] {
        lab.expect_nx("user", q)?;
    }
    for q in ["target", "target.n", "db.n"] {
        lab.expect_nx("other", q)?;
    }
    lab.expect_on("user", "target", "target", "m")?;
    let leaked: Vec<String> = lab
        .upstream_seen()
        .into_iter()
        .filter(|s| s != "db.example.")
        .collect();
    check(leaked.is_empty(), format!("forwarded upstream: {leaked:?}"))
}

// ---------------------------------------------------------------- forwarding

fn forwarding() -> TestResult {
    let text = "
        network open { subnet 10.44.0.0/24 }
        network closed { subnet 10.45.0.0/24; internal }
        container out { network open }
        container shut { network closed }
        container custom { network open; dns 127.0.0.1 }
    ";
    let lab = Lab::new(plan(text, "fwd")?)?;
    // Relayed answer, not authoritative, same question.
    let r = lab.a("out", "up.example")?;
    check(
        r.ips() == ["192.0.2.7".parse::<IpAddr>().map_err(|e| e.to_string())?]
            && !r.message.metadata.authoritative,
        format!("up.example: {}", r.describe()),
    )?;
    let r = lab.ask("out", &Question::tcp("up.example", RecordType::A))?;
    check(
        r.ips().len() == 1,
        format!("up.example over TCP: {}", r.describe()),
    )?;
    let r = lab.a("custom", "up.example")?;
    check(
        r.ips().len() == 1,
        format!("up.example via the dns setting: {}", r.describe()),
    )?;
    // NXDOMAIN relayed.
    let r = lab.a("out", "gone.example")?;
    check(
        r.code() == ResponseCode::NXDomain,
        format!("gone.example: {}", r.describe()),
    )?;
    // A silent upstream: SERVFAIL once the deadline passed, never a hang.
    let start = Instant::now();
    let r = lab.a("out", "silent.example")?;
    let took = start.elapsed();
    check(
        r.code() == ResponseCode::ServFail,
        format!("silent.example: {}", r.describe()),
    )?;
    // Soon after the deadline: the slack is for a loaded machine's scheduling, and stays
    // below ASK_TIMEOUT, past which a hang shows as no answer at all.
    check(
        took >= DEADLINE.mul_f32(0.9) && took < DEADLINE + Duration::from_millis(1500),
        format!("silent.example answered after {took:?}, deadline {DEADLINE:?}"),
    )?;
    // Internal-only: nothing forwarded, SERVFAIL at once; its network's names still resolve.
    let before = lab.upstream_seen().len();
    let start = Instant::now();
    let r = lab.a("shut", "up.example")?;
    check(
        r.code() == ResponseCode::ServFail && start.elapsed() < DEADLINE,
        format!(
            "internal-only up.example: {} after {:?}",
            r.describe(),
            start.elapsed()
        ),
    )?;
    check(
        lab.upstream_seen().len() == before,
        "an internal-only container's query was forwarded",
    )?;
    lab.expect_on("shut", "shut", "shut", "closed")?;
    // Names of other networks: NXDOMAIN, never forwarded.
    lab.expect_nx("out", "shut")?;
    lab.expect_nx("shut", "out")?;
    Ok(())
}

// ---------------------------------------------------------------- robustness

fn malformed_queries() -> TestResult {
    let lab = Lab::new(plan(
        "network n { subnet 10.46.0.0/24 }\ncontainer a { network n }\n",
        "bad",
    )?)?;
    let short = Duration::from_millis(300);
    let garbage: Vec<Vec<u8>> = vec![
        b"InvalidQuery\n".to_vec(),
        vec![0x12],
        vec![0; 11],
        // Header with one question, then a name cut in the middle.
        [
            &[0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0][..],
            &[5, b'a', b'b'],
        ]
        .concat(),
        // A response (QR set) must not be answered.
        [&[0xab, 0xce, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0][..]].concat(),
        // Two questions.
        ctx(Question::udp("a", RecordType::A).encode(7), "encoding")?
            .into_iter()
            .enumerate()
            .map(|(i, b)| if i == 5 { 2 } else { b })
            .collect(),
        vec![0xff; 600],
    ];
    for g in garbage {
        let reply = ctx(probe::send_raw_udp("a", DNS, g.clone(), short), "sending garbage")?;
        if let Some(bytes) = reply {
            let m = hickory_proto::op::Message::from_vec(&bytes).map_err(|e| e.to_string())?;
            check(
                matches!(
                    m.metadata.response_code,
                    ResponseCode::FormErr | ResponseCode::ServFail
                ),
                format!("reply to {g:?}: {:?}", m.metadata.response_code),
            )?;
        }
    }
    // TCP: a length prefix without its message, and pure noise.
    for bytes in [vec![0u8, 100, 1, 2, 3], b"GET / HTTP/1.0\r\n\r\n".to_vec()] {
        ctx(
            netplan_runtime::kernel::in_netns("a", move || {
                use std::io::Write;
                let mut s = std::net::TcpStream::connect_timeout(&DNS, Duration::from_secs(1))?;
                s.write_all(&bytes)
            })
            .and_then(|r| r),
            "sending garbage over TCP",
        )?;
    }
    lab.expect_on("a", "a", "a", "n")?;
    let r = lab.ask("a", &Question::tcp("a", RecordType::A))?;
    check(
        r.ips() == [lab.ip("a", "n")?],
        format!("TCP after garbage: {}", r.describe()),
    )
}

fn tcp_many_addresses() -> TestResult {
    let mut text = String::from(
        "network wide { subnet 10.47.0.0/24; alias-mode all }\ncontainer asker { network wide }\n",
    );
    for i in 0..40 {
        text.push_str(&format!("container m{i} {{ network wide {{ alias many }} }}\n"));
    }
    let lab = Lab::new(plan(&text, "wide")?)?;
    let udp = lab.a("asker", "many")?;
    check(
        udp.truncated() && udp.ips().len() < 40,
        format!(
            "UDP without EDNS must be cut at 512 bytes with TC: {} answers, tc={}",
            udp.ips().len(),
            udp.truncated()
        ),
    )?;
    let tcp = lab.ask("asker", &Question::tcp("many", RecordType::A))?;
    check(
        tcp.ips().len() == 40 && !tcp.truncated(),
        format!("TCP: {} answers, tc={}", tcp.ips().len(), tcp.truncated()),
    )?;
    let edns = lab.ask(
        "asker",
        &Question {
            edns: Some(4096),
            ..Question::udp("many", RecordType::A)
        },
    )?;
    check(
        edns.ips().len() == 40,
        format!("UDP with EDNS 4096: {} answers", edns.ips().len()),
    )
}

// ---------------------------------------------------------------- reloads and restarts

/// Reloads open only the new namespace's sockets, and queries asked meanwhile never fail.
fn reload_keeps_serving() -> TestResult {
    let text = walkthrough_text()?;
    let mut lab = Lab::new(plan(&text, "walkthrough")?)?;
    lab.add_netns("container8")?;
    let more = plan(
        &format!("{text}\ncontainer container8 {{\n  network isolated_nw {{ alias app }}\n}}\n"),
        "walkthrough",
    )?;
    let less = lab.desired.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let asked = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let want = lab.ip("container5", "isolated_nw")?;
    let hammer = {
        let (stop, asked, failures) = (stop.clone(), asked.clone(), failures.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let q = Question::udp("c5", RecordType::A);
                let r = probe::ask(Some("container4"), DNS, &q, Duration::from_secs(2));
                asked.fetch_add(1, Ordering::Relaxed);
                match r {
                    Ok(r) if r.ips() == [want] => {}
                    Ok(r) => failures.lock().map(|mut f| f.push(r.describe())).unwrap_or(()),
                    Err(e) => failures.lock().map(|mut f| f.push(e.to_string())).unwrap_or(()),
                }
            }
        })
    };
    // Each reload overlaps queries: the next one starts only after a few more were answered.
    let wait_for_queries = |n: usize| {
        let start = Instant::now();
        let target = asked.load(Ordering::Relaxed) + n;
        while asked.load(Ordering::Relaxed) < target && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    let mut reports = Vec::new();
    for i in 0..20 {
        wait_for_queries(3);
        let next = if i % 2 == 0 { more.clone() } else { less.clone() };
        reports.push(lab.edit(|d| *d = next)?);
    }
    wait_for_queries(3);
    stop.store(true, Ordering::Relaxed);
    let _ = hammer.join();
    let failures = failures.lock().map(|f| f.clone()).unwrap_or_default();
    check(
        failures.is_empty(),
        format!("queries failed during reloads: {failures:?}"),
    )?;
    check(asked.load(Ordering::Relaxed) > 60, "the hammer asked too little")?;
    for (i, r) in reports.iter().enumerate() {
        let want = if i % 2 == 0 { (1, 0) } else { (0, 1) };
        check(
            (r.opened, r.closed) == want,
            format!(
                "reload {i} opened {} and closed {} namespaces, want {want:?}",
                r.opened, r.closed
            ),
        )?;
    }
    Ok(())
}

/// A restarted service rebinds in every namespace and answers the same.
fn restart_rebinds() -> TestResult {
    let mut lab = Lab::new(walkthrough()?)?;
    let before: Vec<String> = ["c5", "foo", "app", "container3"]
        .iter()
        .map(|n| lab.a("container4", n).map(|r| r.describe()))
        .collect::<Result<_, _>>()?;
    let served = lab.reload().namespaces;
    let after_restart = lab.restart();
    check(
        after_restart.namespaces == served && after_restart.failed.is_empty(),
        format!("after restart: {:?} vs {served:?}", after_restart.namespaces),
    )?;
    let after: Vec<String> = ["c5", "foo", "app", "container3"]
        .iter()
        .map(|n| lab.a("container4", n).map(|r| r.describe()))
        .collect::<Result<_, _>>()?;
    check(before == after, format!("{before:?} != {after:?}"))
}

/// A namespace deleted and created again under the same name is bound again.
fn namespace_recreated() -> TestResult {
    let mut lab = Lab::new(walkthrough()?)?;
    lab.expect_on("container3", "container2", "container2", "isolated_nw")?;
    ctx(
        lab.kernel.delete_netns("container3"),
        "deleting container3's namespace",
    )?;
    ctx(
        lab.kernel.create_netns("container3", &tag_for(TAG)),
        "creating it again",
    )?;
    check(
        lab.a("container3", "container2").is_err(),
        "the new namespace has no server yet",
    )?;
    let s = lab.reload();
    check(
        (s.opened, s.closed) == (1, 1),
        format!("opened {} closed {}", s.opened, s.closed),
    )?;
    lab.expect_on("container3", "container2", "container2", "isolated_nw")
}

// ---------------------------------------------------------------- files (no kernel)

fn resolv_conf_files() -> TestResult {
    let d = walkthrough()?;
    let host = "nameserver 127.0.0.53\nnameserver 192.0.2.10\nsearch corp.example\n";
    let conf = |c: &str| {
        d.container(c)
            .and_then(|c| resolv_conf(c, host))
            .ok_or_else(|| format!("{c} gets no resolv.conf"))
    };
    let c2 = conf("container2")?;
    check(
        c2.contains("nameserver 127.0.0.11\n")
            && c2.contains("options ndots:0\n")
            && c2.contains("search corp.example\n")
            && !c2.contains("192.0.2.10"),
        format!("container2 (bridge + isolated_nw):\n{c2}"),
    )?;
    let c1 = conf("container1")?;
    check(
        c1.contains("nameserver 192.0.2.10\n") && !c1.contains("127.0.0.11") && !c1.contains("127.0.0.53"),
        format!("container1 (default bridge only):\n{c1}"),
    )
}

/// Legacy links on the default bridge are /etc/hosts lines that follow the target's address.
fn legacy_link_hosts() -> TestResult {
    let text = "container target {}\ncontainer user { network bridge { link target as db } }\n";
    let before = plan(text, "legacy")?;
    let moved = plan(&format!("container filler {{}}\n{text}"), "legacy")?;
    for d in [&before, &moved] {
        let ip = addr(d, "target", "bridge")?;
        let hosts = d.container("user").map(|c| c.hosts()).unwrap_or_default();
        check(
            hosts.lines().any(|l| l == format!("{ip}\tdb target")),
            format!("user's /etc/hosts must map db to {ip}:\n{hosts}"),
        )?;
    }
    check(
        addr(&before, "target", "bridge")? != addr(&moved, "target", "bridge")?,
        "the target must have moved",
    )
}

// ---------------------------------------------------------------- main

type Case = (&'static str, fn() -> TestResult);

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    let everywhere: Vec<Case> = vec![
        ("files::resolv_conf", resolv_conf_files),
        ("files::legacy_link_hosts", legacy_link_hosts),
    ];
    let kernel: Vec<Case> = vec![
        ("guide::story", guide_story),
        ("guide::disconnect", guide_disconnect),
        ("names::case_aaaa_ptr", case_aaaa_ptr),
        ("names::alias_mode_all", alias_mode_all),
        ("names::links_follow_target", links_follow_target),
        (
            "names::out_of_sight_never_forwarded",
            out_of_sight_never_forwarded,
        ),
        ("forward::relay_nxdomain_servfail_internal", forwarding),
        ("robust::malformed_queries", malformed_queries),
        ("robust::tcp_many_addresses", tcp_many_addresses),
        ("reload::keeps_serving", reload_keeps_serving),
        ("reload::restart_rebinds", restart_rebinds),
        ("reload::namespace_recreated", namespace_recreated),
    ];
    let inside = match sandbox::enter() {
        Ok(Sandbox::Finished(code)) => return ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Ok(Sandbox::Inside) => true,
        Ok(Sandbox::NotRoot) => {
            eprintln!(
                "note: the DNS tests need root (they run in a private namespace sandbox); reporting them as ignored"
            );
            false
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // The namespace tests share one sandbox (namespace names, the upstream port): one at a time.
    args.test_threads = Some(1);
    let mut trials: Vec<Trial> = everywhere
        .into_iter()
        .map(|(name, f)| Trial::test(name, move || f().map_err(Into::into)))
        .collect();
    for (name, f) in kernel {
        trials.push(Trial::test(name, move || f().map_err(Into::into)).with_ignored_flag(!inside));
    }
    libtest_mimic::run(&args, trials).exit_code()
}
