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
use workload::{Layout, NamespaceMaker};

const USAGE: &str = "usage: floor up|down N [--per-bridge P] [--pipelined] [--keep-snooping] \
[--host-ipv6-off] [--container-ipv6-on] [--shared-proc] [--one-queue] [--group-at-build] [--master-first] [--enslave-batch B] [--threads T] [--group|--bridges-first|--bridges-last] \
[--bridge-up]";

/// How W-N is built and torn down. The defaults are the fastest found that
/// leave the same end state as plumb; the variants are there to measure
/// other constructions (bench/FLOOR.md).
struct Options {
    layout: Layout,
    /// Build phase by phase (all namespaces, then all links, ...), each
    /// timed alone; otherwise namespaces are made ahead on a second thread
    /// while the main thread builds the containers. (Both threads mostly wait
    /// for RTNL and each other: no faster up to W1000, slower beyond.)
    phased: bool,
    /// Multicast snooping off while the ports join, back on at the end (the
    /// same end state; with it on, every port joining re-arms every port's
    /// query timers).
    snooping_off: bool,
    /// IPv6 off on the host-side ends (the host's default while they are
    /// made). Changes the end state: plumb leaves IPv6 on there.
    host_ipv6_off: bool,
    /// Leave IPv6 on in the containers (no /proc/sys write per namespace).
    /// Changes the end state: plumb turns it off there.
    container_ipv6_on: bool,
    /// Write each namespace's sysctl through /proc rather than a private,
    /// regularly replaced procfs (workload::NamespaceMaker).
    shared_proc: bool,
    /// One TX and one RX queue allocated per veth end instead of one per
    /// CPU: the kernel then need not cut the real queues down to one after
    /// registering (a synchronize_net under RTNL per end). Same real queues
    /// (rx-0, tx-0); `ip -d link` shows numtxqueues 1 instead of 2.
    one_queue: bool,
    /// Build: put the bridges and host ends in the teardown's link group when
    /// they are made; teardown: they are there already. Changes the end state
    /// (`ip link` shows `group 88`).
    group_at_build: bool,
    /// Enslave a host end in one request and bring it up in the next
    /// (`ip link set vcI master plumb0 up` does both in one, up first).
    master_first: bool,
    /// Host ends enslaved per round trip.
    enslave_batch: usize,
    /// Threads unmounting namespaces on teardown.
    threads: usize,
    /// Teardown: how the bridges (and host ends) go.
    deletion: Deletion,
    /// Teardown: leave the bridges up while their ports go.
    bridge_up: bool,
}

#[derive(PartialEq)]
enum Deletion {
    /// Delete the bridges (each request removes its ports), then unmount.
    BridgesFirst,
    /// Unmount (the kernel's clean-up deletes the veths, all dying
    /// namespaces' in one batch), then delete the bridges.
    BridgesLast,
    /// Put the bridges and host ends in one link group and delete the group
    /// with one request (one batch, one RCU barrier), unmounting meanwhile.
    Group,
}

fn parse(args: &[String]) -> Option<(String, Options)> {
    let verb = args.first()?.clone();
    let n: usize = args.get(1)?.parse().ok()?;
    let mut o = Options {
        layout: Layout {
            n,
            per_bridge: 1000,
        },
        phased: true,
        snooping_off: true,
        host_ipv6_off: false,
        container_ipv6_on: false,
        shared_proc: false,
        one_queue: false,
        group_at_build: false,
        master_first: false,
        enslave_batch: 16,
        threads: 8,
        // Joining the group costs an IPv6 route walk per host end (O(N²)):
        // beyond one bridge's worth the kernel's own batch is cheaper.
        deletion: if n <= 1000 {
            Deletion::Group
        } else {
            Deletion::BridgesLast
        },
        bridge_up: false,
    };
    let mut rest = args[2..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--per-bridge" => o.layout.per_bridge = rest.next()?.parse().ok()?,
            "--enslave-batch" => o.enslave_batch = rest.next()?.parse().ok()?,
            "--threads" => o.threads = rest.next()?.parse().ok()?,
            "--pipelined" => o.phased = false,
            "--keep-snooping" => o.snooping_off = false,
            "--host-ipv6-off" => o.host_ipv6_off = true,
            "--container-ipv6-on" => o.container_ipv6_on = true,
            "--shared-proc" => o.shared_proc = true,
            "--one-queue" => o.one_queue = true,
            "--group-at-build" => {
                o.group_at_build = true;
                o.deletion = Deletion::Group;
            }
            "--master-first" => o.master_first = true,
            "--bridges-first" => o.deletion = Deletion::BridgesFirst,
            "--bridges-last" => o.deletion = Deletion::BridgesLast,
            "--group" => o.deletion = Deletion::Group,
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

/// Phase timings, printed on one line at the end: wall time, and the CPU
/// time of the thread that did the phase (less disturbed by other load on
/// the machine; time spent waiting for a lock or a grace period is not in it).
struct Phases {
    title: String,
    start: Instant,
    mark: (Instant, Duration),
    entries: Vec<(&'static str, Duration, Duration)>,
}

impl Phases {
    fn new(title: String) -> Phases {
        let now = Instant::now();
        Phases {
            title,
            start: now,
            mark: (now, thread_cpu()),
            entries: Vec::new(),
        }
    }

    /// Time since the previous mark, under `name`.
    fn lap(&mut self, name: &'static str) {
        let now = (Instant::now(), thread_cpu());
        self.entries
            .push((name, now.0 - self.mark.0, now.1 - self.mark.1));
        self.mark = now;
    }

    /// Durations measured elsewhere (another thread, or summed), not a lap.
    fn add(&mut self, name: &'static str, wall: Duration, cpu: Duration) {
        self.entries.push((name, wall, cpu));
    }

    fn print(&self) {
        let mut line = format!("{} (wall/cpu s):", self.title);
        for (name, wall, cpu) in &self.entries {
            line += &format!(" {name} {:.3}/{:.3}", wall.as_secs_f64(), cpu.as_secs_f64());
        }
        line += &format!(" | total {:.3}", self.start.elapsed().as_secs_f64());
        eprintln!("{line}");
    }
}

/// CPU time (user and system) of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn build(o: &Options) -> io::Result<()> {
    let l = &o.layout;
    let mut t = Phases::new(format!(
        "floor up W{}{}",
        l.n,
        if o.phased { "" } else { " pipelined" }
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
    // iptables works on the other core while the links are made.
    let rule = iptables_restore(&l.masquerade_rules('A'))?;
    let host = Socket::open()?;
    let mut hb = Batch::new();
    let bridges = make_bridges(&host, &mut hb, o)?;
    let host_ns: OwnedFd = fs::File::open("/proc/self/ns/net")?.into();
    t.lap("bridges");

    let (tx, namespaces) = sync_channel::<io::Result<OwnedFd>>(64);
    let n = l.n;
    let mut namespace_maker = NamespaceMaker::new(!o.container_ipv6_on, !o.shared_proc);
    let maker = std::thread::spawn(move || {
        let start = Instant::now();
        for i in 0..n {
            if tx.send(namespace_maker.make(i)).is_err() {
                break;
            }
        }
        (start.elapsed(), thread_cpu())
    });
    let next_namespace = || -> io::Result<Socket> {
        let made = namespaces
            .recv()
            .map_err(|_| io::Error::other("the namespace thread stopped"))?;
        Ok(Socket::from_fd(made?))
    };
    let host_fd = host_ns.as_raw_fd() as u32;
    if o.phased {
        let inside: Vec<Socket> = (0..n)
            .map(|_| next_namespace())
            .collect::<io::Result<_>>()?;
        let (wall, cpu) = join(maker)?;
        t.add("namespaces(thread)", wall, cpu);
        t.lap("namespaces");
        let mut ib = Batch::new();
        for (i, s) in inside.iter().enumerate() {
            lo_and_veth(&mut ib, i, host_fd, o);
            ib.commit(s)?;
        }
        t.lap("links");
        for (i, s) in inside.iter().enumerate() {
            address_and_route(&mut ib, l, i);
            ib.commit(s)?;
        }
        t.lap("addresses+routes");
        for first in (0..n).step_by(o.enslave_batch) {
            enslave(
                &host,
                &mut hb,
                o,
                &bridges,
                first..(first + o.enslave_batch).min(n),
            )?;
        }
        t.lap("enslave+up");
    } else {
        // Wall and CPU time of: waiting for a namespace, the batch inside, enslaving.
        let mut spent = [(Duration::ZERO, Duration::ZERO); 3];
        let mut mark = (Instant::now(), thread_cpu());
        let mut lap = |k: usize| {
            let now = (Instant::now(), thread_cpu());
            spent[k].0 += now.0 - mark.0;
            spent[k].1 += now.1 - mark.1;
            mark = now;
        };
        let mut ib = Batch::new();
        for i in 0..n {
            let s = next_namespace()?;
            lap(0);
            lo_and_veth(&mut ib, i, host_fd, o);
            address_and_route(&mut ib, l, i);
            ib.commit(&s)
                .map_err(|e| context(e, format!("container c{i}")))?;
            lap(1);
            if (i + 1) % o.enslave_batch == 0 || i + 1 == n {
                let first = i + 1 - ((i % o.enslave_batch) + 1);
                enslave(&host, &mut hb, o, &bridges, first..i + 1)?;
            }
            lap(2);
        }
        let (wall, cpu) = join(maker)?;
        t.add("namespaces(thread)", wall, cpu);
        t.add("waiting-for-namespaces", spent[0].0, spent[0].1);
        t.add("links+addresses+routes", spent[1].0, spent[1].1);
        t.add("enslave+up", spent[2].0, spent[2].1);
        t.lap("containers");
    }
    if o.snooping_off {
        for name in l.bridge_names() {
            bridge_request(&mut hb, RTM_NEWLINK, 0, &name, Some(true));
        }
        hb.commit(&host)?;
        t.lap("snooping-on");
    }
    if let Some(old) = saved_ipv6_default {
        fs::write(host_ipv6_default, old)?;
    }
    wait_ok(rule, "iptables-restore")?;
    t.lap("rule");
    t.print();
    Ok(())
}

fn join(maker: std::thread::JoinHandle<(Duration, Duration)>) -> io::Result<(Duration, Duration)> {
    maker
        .join()
        .map_err(|_| io::Error::other("the namespace thread panicked"))
}

/// The bridges with their gateway addresses, up; returns their indexes.
fn make_bridges(host: &Socket, b: &mut Batch, o: &Options) -> io::Result<Vec<u32>> {
    let names = o.layout.bridge_names();
    for name in &names {
        let snooping = o.snooping_off.then_some(false);
        bridge_request(b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name, snooping);
        if o.group_at_build {
            b.attr_u32(IFLA_GROUP, TEARDOWN_GROUP);
        }
    }
    b.commit(host)?;
    let mut indexes = vec![0u32; names.len()];
    b.request(RTM_GETLINK, NLM_F_DUMP, &ifinfomsg(0, 0, 0));
    b.dump_links(host, |_, index, name| {
        if let Some(k) = names.iter().position(|b| b == name) {
            indexes[k] = index as u32;
        }
    })?;
    for (k, &index) in indexes.iter().enumerate() {
        let gateway = o.layout.gateway(k);
        b.request(
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_EXCL,
            &ifaddrmsg_v4(16, index),
        )
        .attr(IFA_LOCAL, &gateway)
        .attr(IFA_ADDRESS, &gateway)
        .attr(IFA_BROADCAST, &o.layout.broadcast(k));
    }
    b.commit(host)?;
    Ok(indexes)
}

/// Create (`kind` RTM_NEWLINK with CREATE) or change a bridge, up, optionally
/// setting multicast snooping.
fn bridge_request(b: &mut Batch, kind: u16, flags: u16, name: &str, snooping: Option<bool>) {
    b.request(kind, flags, &ifinfomsg(0, IFF_UP, IFF_UP))
        .attr_str(IFLA_IFNAME, name);
    let info = b.nest(IFLA_LINKINFO);
    b.attr_str(IFLA_INFO_KIND, "bridge");
    if let Some(on) = snooping {
        let data = b.nest(IFLA_INFO_DATA);
        b.attr(IFLA_BR_MCAST_SNOOPING, &[on as u8]);
        b.nest_end(data);
    }
    b.nest_end(info);
}

/// Inside container `i`: lo up, and eth0 created up with its peer vcI in the host.
fn lo_and_veth(b: &mut Batch, i: usize, host_fd: u32, o: &Options) {
    b.request(RTM_NEWLINK, 0, &ifinfomsg(1, IFF_UP, IFF_UP));
    // A fresh namespace holds only lo (index 1): eth0 gets index 2, asked for
    // explicitly so the address below can name it without a lookup.
    b.request(
        RTM_NEWLINK,
        NLM_F_CREATE | NLM_F_EXCL,
        &ifinfomsg(2, IFF_UP, IFF_UP),
    )
    .attr_str(IFLA_IFNAME, "eth0");
    if o.one_queue {
        b.attr_u32(IFLA_NUM_TX_QUEUES, 1)
            .attr_u32(IFLA_NUM_RX_QUEUES, 1);
    }
    let info = b.nest(IFLA_LINKINFO);
    b.attr_str(IFLA_INFO_KIND, "veth");
    let data = b.nest(IFLA_INFO_DATA);
    let peer = b.nest(VETH_INFO_PEER);
    b.raw(&ifinfomsg(0, 0, 0))
        .attr_str(IFLA_IFNAME, &format!("vc{i}"))
        .attr_u32(IFLA_NET_NS_FD, host_fd);
    if o.one_queue {
        b.attr_u32(IFLA_NUM_TX_QUEUES, 1)
            .attr_u32(IFLA_NUM_RX_QUEUES, 1);
    }
    if o.group_at_build {
        b.attr_u32(IFLA_GROUP, TEARDOWN_GROUP);
    }
    b.nest_end(peer).nest_end(data).nest_end(info);
}

/// Inside container `i`: eth0's address and the default route via its bridge.
fn address_and_route(b: &mut Batch, l: &Layout, i: usize) {
    let ip = l.container_ip(i);
    let k = l.bridge_of(i);
    b.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifaddrmsg_v4(16, 2))
        .attr(IFA_LOCAL, &ip)
        .attr(IFA_ADDRESS, &ip)
        .attr(IFA_BROADCAST, &l.broadcast(k));
    b.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rtmsg_v4(0))
        .attr(RTA_GATEWAY, &l.gateway(k));
}

fn context(e: io::Error, what: String) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Host ends `range` onto their bridges and up, in one round trip.
fn enslave(
    host: &Socket,
    b: &mut Batch,
    o: &Options,
    bridges: &[u32],
    range: std::ops::Range<usize>,
) -> io::Result<()> {
    let what = format!("enslave vc{}..vc{}", range.start, range.end - 1);
    for i in range {
        let name = format!("vc{i}");
        let master = bridges[o.layout.bridge_of(i)];
        if o.master_first {
            b.request(RTM_SETLINK, 0, &ifinfomsg(0, 0, 0))
                .attr_str(IFLA_IFNAME, &name)
                .attr_u32(IFLA_MASTER, master);
            b.request(RTM_SETLINK, 0, &ifinfomsg(0, IFF_UP, IFF_UP))
                .attr_str(IFLA_IFNAME, &name);
        } else {
            b.request(RTM_SETLINK, 0, &ifinfomsg(0, IFF_UP, IFF_UP))
                .attr_str(IFLA_IFNAME, &name)
                .attr_u32(IFLA_MASTER, master);
        }
    }
    b.commit(host).map_err(|e| context(e, what))
}

fn teardown(o: &Options) -> io::Result<()> {
    let l = &o.layout;
    let mut t = Phases::new(format!("floor down W{}", l.n));
    // Subscribe first: every host end's and bridge's deletion is then seen.
    let watch = Socket::open()?;
    watch.subscribe(libc::RTMGRP_LINK as u32, 256 << 20)?;
    let rule = iptables_restore(&l.masquerade_rules('D'))?;
    let host = Socket::open()?;
    let mut b = Batch::new();
    if !o.bridge_up {
        for name in l.bridge_names() {
            b.request(RTM_SETLINK, 0, &ifinfomsg(0, 0, IFF_UP))
                .attr_str(IFLA_IFNAME, &name);
        }
        b.commit(&host)?;
        t.lap("bridges-down");
    }
    match o.deletion {
        Deletion::BridgesFirst => {
            delete_bridges(&host, &mut b, l)?;
            t.lap("bridges-deleted");
            workload::unmount_namespaces(l.n, o.threads)?;
            t.lap("unmount");
        }
        Deletion::BridgesLast => {
            workload::unmount_namespaces(l.n, o.threads)?;
            t.lap("unmount");
            delete_bridges(&host, &mut b, l)?;
            t.lap("bridges-deleted");
        }
        Deletion::Group => std::thread::scope(|s| {
            if !o.group_at_build {
                join_teardown_group(&host, &mut b, o)?;
                t.lap("group-joined");
            }
            // Unmounting waits on RCU and the mount lock, the group's
            // deletion on RTNL: they overlap. (Not before the group is
            // complete: the kernel's clean-up of an unmounted namespace
            // deletes its veth pair.)
            let unmounting = s.spawn(|| {
                let start = Instant::now();
                workload::unmount_namespaces(l.n, o.threads).map(|()| start.elapsed())
            });
            b.request(RTM_DELLINK, 0, &ifinfomsg(0, 0, 0))
                .attr_u32(IFLA_GROUP, TEARDOWN_GROUP);
            b.commit(&host)
                .map_err(|e| context(e, "delete the link group".into()))?;
            t.lap("group-deleted");
            let unmounted = unmounting.join().expect("unmount thread panicked")?;
            t.add("unmount(threads)", unmounted, Duration::ZERO);
            t.lap("waiting-for-unmount");
            io::Result::Ok(())
        })?,
    }
    wait_for_links_gone(&watch, &mut b, l)?;
    t.lap("kernel-cleanup");
    wait_ok(rule, "iptables-restore")?;
    t.lap("rule");
    t.print();
    Ok(())
}

fn delete_bridges(host: &Socket, b: &mut Batch, l: &Layout) -> io::Result<()> {
    for name in l.bridge_names() {
        b.request(RTM_DELLINK, 0, &ifinfomsg(0, 0, 0))
            .attr_str(IFLA_IFNAME, &name);
    }
    b.commit(host)
}

/// A link group no other link in the sandbox is in.
const TEARDOWN_GROUP: u32 = 88;

/// Put the bridges and host ends in [`TEARDOWN_GROUP`], 256 to a round trip.
fn join_teardown_group(host: &Socket, b: &mut Batch, o: &Options) -> io::Result<()> {
    let names = o.layout.bridge_names().into_iter();
    let ends = (0..o.layout.n).map(|i| format!("vc{i}"));
    for (k, name) in names.chain(ends).enumerate() {
        b.request(RTM_SETLINK, 0, &ifinfomsg(0, 0, 0))
            .attr_str(IFLA_IFNAME, &name)
            .attr_u32(IFLA_GROUP, TEARDOWN_GROUP);
        if k % 256 == 255 {
            b.commit(host)
                .map_err(|e| context(e, format!("join the link group up to {name}")))?;
        }
    }
    b.commit(host)
        .map_err(|e| context(e, "join the link group".into()))
}

/// Until the kernel has deleted every host end and bridge: counts their
/// deletion notices, or, if notices were lost (ENOBUFS), polls the link list.
fn wait_for_links_gone(watch: &Socket, b: &mut Batch, l: &Layout) -> io::Result<()> {
    let ours = |name: &str| name.starts_with("vc") || name.starts_with("plumb");
    let mut left = l.n + l.bridges();
    let watched = b.watch_links(watch, |kind, _, name| {
        if kind == RTM_DELLINK && ours(name) {
            left -= 1;
        }
        left == 0
    });
    match watched {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
            let poll = Socket::open()?;
            loop {
                let mut present = 0;
                b.request(RTM_GETLINK, NLM_F_DUMP, &ifinfomsg(0, 0, 0));
                b.dump_links(&poll, |_, _, name| present += ours(name) as usize)?;
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
