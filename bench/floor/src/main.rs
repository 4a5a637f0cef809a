//! The floor for workload W-N (bench/containers.rhai): the same kernel work
//! and end state as `plumb run bench/containers.rhai`, done as fast as this
//! machine allows, with nothing else (no journal, no script engine).
//!
//!   floor up N [--per-bridge P] [variants]     build, print phase timings
//!   floor down N [--per-bridge P] [variants]   tear down until every link is gone
//!
//! Root only, and only inside a throw-away sandbox (`plumb sandbox`).

mod netlink;
mod workload;

use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use netlink::*;
use workload::Layout;

const USAGE: &str = "usage: floor up|down N [--per-bridge P] [--phased] [--snooping-off] \
[--host-ipv6-off] [--one-queue] [--master-first] [--enslave-batch B] [--threads T] [--bridge-last] \
[--bridge-up]";

/// How W-N is built and torn down; the defaults are the fastest found.
struct Options {
    layout: Layout,
    /// Build phase by phase (all namespaces, then all links, ...), to time each alone.
    phased: bool,
    /// Multicast snooping off while the ports join, back on at the end.
    snooping_off: bool,
    /// IPv6 off on the host-side ends (the host's default while they are made).
    host_ipv6_off: bool,
    /// One TX and one RX queue per veth end instead of one per CPU.
    one_queue: bool,
    /// Enslave a host end in one request and bring it up in the next
    /// (`ip link set vcI master plumb0 up` does both in one, up first).
    master_first: bool,
    /// Host ends enslaved per round trip.
    enslave_batch: usize,
    /// Threads unmounting namespaces on teardown.
    threads: usize,
    /// Teardown: delete the bridges after unmounting the namespaces, not before.
    bridge_last: bool,
    /// Teardown: leave the bridges up while their ports go.
    bridge_up: bool,
}

fn parse(args: &[String]) -> Option<(String, Options)> {
    let verb = args.first()?.clone();
    let n: usize = args.get(1)?.parse().ok()?;
    let mut o = Options {
        layout: Layout {
            n,
            per_bridge: 1000,
        },
        phased: false,
        snooping_off: false,
        host_ipv6_off: false,
        one_queue: false,
        master_first: false,
        enslave_batch: 16,
        threads: 8,
        bridge_last: false,
        bridge_up: false,
    };
    let mut rest = args[2..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--per-bridge" => o.layout.per_bridge = rest.next()?.parse().ok()?,
            "--enslave-batch" => o.enslave_batch = rest.next()?.parse().ok()?,
            "--threads" => o.threads = rest.next()?.parse().ok()?,
            "--phased" => o.phased = true,
            "--snooping-off" => o.snooping_off = true,
            "--host-ipv6-off" => o.host_ipv6_off = true,
            "--one-queue" => o.one_queue = true,
            "--master-first" => o.master_first = true,
            "--bridge-last" => o.bridge_last = true,
            "--bridge-up" => o.bridge_up = true,
            _ => return None,
        }
    }
    (o.layout.per_bridge > 0 && o.enslave_batch > 0 && o.threads > 0).then_some((verb, o))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse(&args) {
        Some((verb, o)) if verb == "up" => build(&o),
        Some((verb, o)) if verb == "down" => teardown(&o),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("floor: {e}");
        std::process::exit(1);
    }
}

/// Phase timings, printed on one line at the end.
struct Phases {
    title: String,
    start: Instant,
    mark: Instant,
    entries: Vec<(&'static str, Duration)>,
}

impl Phases {
    fn new(title: String) -> Phases {
        let now = Instant::now();
        Phases {
            title,
            start: now,
            mark: now,
            entries: Vec::new(),
        }
    }

    /// Time since the previous mark, under `name`.
    fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        self.entries.push((name, now - self.mark));
        self.mark = now;
    }

    /// A duration measured elsewhere (another thread), not a lap.
    fn add(&mut self, name: &'static str, d: Duration) {
        self.entries.push((name, d));
    }

    fn print(&self) {
        let mut line = format!("{}:", self.title);
        for (name, d) in &self.entries {
            line += &format!(" {name} {:.3}", d.as_secs_f64());
        }
        line += &format!(" | total {:.3} s", self.start.elapsed().as_secs_f64());
        eprintln!("{line}");
    }
}

fn build(o: &Options) -> io::Result<()> {
    let l = &o.layout;
    let mut t = Phases::new(format!(
        "floor up W{}{}",
        l.n,
        if o.phased { " phased" } else { "" }
    ));
    raise_fd_limit(l.n as u64 + 256)?;
    workload::prepare_netns_dir()?;
    fs::write("/proc/sys/net/ipv4/ip_forward", "1")?;
    let host_ipv6_default = "/proc/sys/net/ipv6/conf/default/disable_ipv6";
    let saved_ipv6_default = if o.host_ipv6_off {
        let old = fs::read_to_string(host_ipv6_default)?;
        fs::write(host_ipv6_default, "1")?;
        Some(old)
    } else {
        None
    };
    // iptables works on the other core while the links are made (not when phased).
    let mut rule = (!o.phased)
        .then(|| iptables_restore(&l.masquerade_rules('A')))
        .transpose()?;
    let mut host = Socket::open()?;
    let bridges = make_bridges(&mut host, o)?;
    let host_ns: OwnedFd = fs::File::open("/proc/self/ns/net")?.into();
    t.lap("bridges");

    let (tx, namespaces) = sync_channel::<io::Result<OwnedFd>>(64);
    let n = l.n;
    let maker = std::thread::spawn(move || {
        let start = Instant::now();
        for i in 0..n {
            if tx.send(workload::make_namespace(i)).is_err() {
                break;
            }
        }
        start.elapsed()
    });
    let next_namespace = || -> io::Result<Socket> {
        let made = namespaces
            .recv()
            .map_err(|_| io::Error::other("the namespace thread stopped"))?;
        Ok(Socket::from_fd(made?))
    };
    let host_fd = host_ns.as_raw_fd() as u32;
    if o.phased {
        let mut inside: Vec<Socket> = (0..n)
            .map(|_| next_namespace())
            .collect::<io::Result<_>>()?;
        t.add("namespaces(thread)", join(maker)?);
        t.lap("namespaces");
        for (i, s) in inside.iter_mut().enumerate() {
            lo_and_veth(s, i, host_fd, o.one_queue);
            s.commit()?;
        }
        t.lap("links");
        for (i, s) in inside.iter_mut().enumerate() {
            address_and_route(s, l, i);
            s.commit()?;
        }
        t.lap("addresses+routes");
        for first in (0..n).step_by(o.enslave_batch) {
            enslave(
                &mut host,
                o,
                &bridges,
                first..(first + o.enslave_batch).min(n),
            )?;
        }
        t.lap("enslave+up");
        rule = Some(iptables_restore(&l.masquerade_rules('A'))?);
    } else {
        let (mut waiting, mut inside, mut enslaving) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for i in 0..n {
            let before = Instant::now();
            let mut s = next_namespace()?;
            let got = Instant::now();
            lo_and_veth(&mut s, i, host_fd, o.one_queue);
            address_and_route(&mut s, l, i);
            s.commit()?;
            let built = Instant::now();
            if (i + 1) % o.enslave_batch == 0 || i + 1 == n {
                let first = i + 1 - ((i % o.enslave_batch) + 1);
                enslave(&mut host, o, &bridges, first..i + 1)?;
            }
            waiting += got - before;
            inside += built - got;
            enslaving += built.elapsed();
        }
        t.add("namespaces(thread)", join(maker)?);
        t.add("waiting-for-namespaces", waiting);
        t.add("links+addresses+routes", inside);
        t.add("enslave+up", enslaving);
        t.lap("containers");
    }
    if o.snooping_off {
        for name in l.bridge_names() {
            bridge_request(&mut host, RTM_NEWLINK, 0, &name, Some(true));
        }
        host.commit()?;
        t.lap("snooping-on");
    }
    if let Some(old) = saved_ipv6_default {
        fs::write(host_ipv6_default, old)?;
    }
    if let Some(child) = rule.take() {
        wait_ok(child, "iptables-restore")?;
    }
    t.lap("rule");
    t.print();
    Ok(())
}

fn join(maker: std::thread::JoinHandle<Duration>) -> io::Result<Duration> {
    maker
        .join()
        .map_err(|_| io::Error::other("the namespace thread panicked"))
}

/// The bridges with their gateway addresses, up; returns their indexes.
fn make_bridges(host: &mut Socket, o: &Options) -> io::Result<Vec<u32>> {
    let names = o.layout.bridge_names();
    for name in &names {
        bridge_request(
            host,
            RTM_NEWLINK,
            NLM_F_CREATE | NLM_F_EXCL,
            name,
            o.snooping_off.then_some(false),
        );
    }
    host.commit()?;
    let mut indexes = vec![0u32; names.len()];
    host.request(RTM_GETLINK, NLM_F_DUMP, &ifinfomsg(0, 0, 0));
    host.dump_links(|_, index, name| {
        if let Some(k) = names.iter().position(|b| b == name) {
            indexes[k] = index as u32;
        }
    })?;
    for (k, &index) in indexes.iter().enumerate() {
        let gateway = o.layout.gateway(k);
        host.request(
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_EXCL,
            &ifaddrmsg_v4(16, index),
        )
        .attr(IFA_LOCAL, &gateway)
        .attr(IFA_ADDRESS, &gateway)
        .attr(IFA_BROADCAST, &o.layout.broadcast(k));
    }
    host.commit()?;
    Ok(indexes)
}

/// Create (`kind` RTM_NEWLINK with CREATE) or change a bridge, up, optionally
/// setting multicast snooping.
fn bridge_request(host: &mut Socket, kind: u16, flags: u16, name: &str, snooping: Option<bool>) {
    host.request(kind, flags, &ifinfomsg(0, IFF_UP, IFF_UP))
        .attr_str(IFLA_IFNAME, name);
    let info = host.nest(IFLA_LINKINFO);
    host.attr_str(IFLA_INFO_KIND, "bridge");
    if let Some(on) = snooping {
        let data = host.nest(IFLA_INFO_DATA);
        host.attr(IFLA_BR_MCAST_SNOOPING, &[on as u8]);
        host.nest_end(data);
    }
    host.nest_end(info);
}

/// Inside container `i`: lo up, and eth0 created up with its peer vcI in the host.
fn lo_and_veth(s: &mut Socket, i: usize, host_fd: u32, one_queue: bool) {
    s.request(RTM_NEWLINK, 0, &ifinfomsg(1, IFF_UP, IFF_UP));
    // A fresh namespace holds only lo (index 1): eth0 gets index 2, asked for
    // explicitly so the address below can name it without a lookup.
    s.request(
        RTM_NEWLINK,
        NLM_F_CREATE | NLM_F_EXCL,
        &ifinfomsg(2, IFF_UP, IFF_UP),
    )
    .attr_str(IFLA_IFNAME, "eth0");
    if one_queue {
        s.attr_u32(IFLA_NUM_TX_QUEUES, 1)
            .attr_u32(IFLA_NUM_RX_QUEUES, 1);
    }
    let info = s.nest(IFLA_LINKINFO);
    s.attr_str(IFLA_INFO_KIND, "veth");
    let data = s.nest(IFLA_INFO_DATA);
    let peer = s.nest(VETH_INFO_PEER);
    s.raw(&ifinfomsg(0, 0, 0))
        .attr_str(IFLA_IFNAME, &format!("vc{i}"))
        .attr_u32(IFLA_NET_NS_FD, host_fd);
    if one_queue {
        s.attr_u32(IFLA_NUM_TX_QUEUES, 1)
            .attr_u32(IFLA_NUM_RX_QUEUES, 1);
    }
    s.nest_end(peer).nest_end(data).nest_end(info);
}

/// Inside container `i`: eth0's address and the default route via its bridge.
fn address_and_route(s: &mut Socket, l: &Layout, i: usize) {
    let ip = l.container_ip(i);
    let k = l.bridge_of(i);
    s.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifaddrmsg_v4(16, 2))
        .attr(IFA_LOCAL, &ip)
        .attr(IFA_ADDRESS, &ip)
        .attr(IFA_BROADCAST, &l.broadcast(k));
    s.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rtmsg_v4(0))
        .attr(RTA_GATEWAY, &l.gateway(k));
}

/// Host ends `range` onto their bridges and up, in one round trip.
fn enslave(
    host: &mut Socket,
    o: &Options,
    bridges: &[u32],
    range: std::ops::Range<usize>,
) -> io::Result<()> {
    for i in range {
        let name = format!("vc{i}");
        let master = bridges[o.layout.bridge_of(i)];
        if o.master_first {
            host.request(RTM_SETLINK, 0, &ifinfomsg(0, 0, 0))
                .attr_str(IFLA_IFNAME, &name)
                .attr_u32(IFLA_MASTER, master);
            host.request(RTM_SETLINK, 0, &ifinfomsg(0, IFF_UP, IFF_UP))
                .attr_str(IFLA_IFNAME, &name);
        } else {
            host.request(RTM_SETLINK, 0, &ifinfomsg(0, IFF_UP, IFF_UP))
                .attr_str(IFLA_IFNAME, &name)
                .attr_u32(IFLA_MASTER, master);
        }
    }
    host.commit()
}

fn teardown(o: &Options) -> io::Result<()> {
    let l = &o.layout;
    let mut t = Phases::new(format!("floor down W{}", l.n));
    // Subscribe first: every host end's and bridge's deletion is then seen.
    let mut watch = Socket::open()?;
    watch.subscribe(libc::RTMGRP_LINK as u32, 256 << 20)?;
    let rule = iptables_restore(&l.masquerade_rules('D'))?;
    let mut host = Socket::open()?;
    if !o.bridge_up {
        for name in l.bridge_names() {
            host.request(RTM_SETLINK, 0, &ifinfomsg(0, 0, IFF_UP))
                .attr_str(IFLA_IFNAME, &name);
        }
        host.commit()?;
        t.lap("bridges-down");
    }
    if !o.bridge_last {
        delete_bridges(&mut host, l)?;
        t.lap("bridges-deleted");
    }
    workload::unmount_namespaces(l.n, o.threads)?;
    t.lap("unmount");
    if o.bridge_last {
        delete_bridges(&mut host, l)?;
        t.lap("bridges-deleted");
    }
    wait_for_links_gone(&mut watch, l)?;
    t.lap("kernel-cleanup");
    wait_ok(rule, "iptables-restore")?;
    t.lap("rule");
    t.print();
    Ok(())
}

fn delete_bridges(host: &mut Socket, l: &Layout) -> io::Result<()> {
    for name in l.bridge_names() {
        host.request(RTM_DELLINK, 0, &ifinfomsg(0, 0, 0))
            .attr_str(IFLA_IFNAME, &name);
    }
    host.commit()
}

/// Until the kernel has deleted every host end and bridge: counts their
/// deletion notices, or, if notices were lost (ENOBUFS), polls the link list.
fn wait_for_links_gone(watch: &mut Socket, l: &Layout) -> io::Result<()> {
    let ours = |name: &str| name.starts_with("vc") || name.starts_with("plumb");
    let mut left = l.n + l.bridges();
    let watched = watch.watch_links(|kind, _, name| {
        if kind == RTM_DELLINK && ours(name) {
            left -= 1;
        }
        left == 0
    });
    match watched {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
            let mut poll = Socket::open()?;
            loop {
                let mut present = 0;
                poll.request(RTM_GETLINK, NLM_F_DUMP, &ifinfomsg(0, 0, 0));
                poll.dump_links(|_, _, name| present += ours(name) as usize)?;
                if present == 0 {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Err(e) => Err(e),
    }
}

/// `iptables-restore --noflush` fed `rules`, running in the background.
fn iptables_restore(rules: &str) -> io::Result<Child> {
    let mut child = Command::new("iptables-restore")
        .arg("--noflush")
        .stdin(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(rules.as_bytes())?;
    Ok(child)
}

fn wait_ok(mut child: Child, what: &str) -> io::Result<()> {
    let status = child.wait()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{what} failed: {status}")))
    }
}

/// Room for one netlink socket per namespace (kept open in phased mode).
fn raise_fd_limit(needed: u64) -> io::Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit on a properly initialised struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) < 0 {
            return Err(io::Error::last_os_error());
        }
        if lim.rlim_cur < needed {
            lim.rlim_cur = needed.min(lim.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) < 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}
