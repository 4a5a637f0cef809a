//! W-N's names and addresses (as bench/containers.rhai hands them out) and its
//! named namespaces (as `ip netns add` makes them).

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::OwnedFd;

use crate::netlink::Socket;

const NETNS_DIR: &str = "/run/netns";

/// N containers, `per_bridge` to a bridge: bridge k is plumbK with subnet
/// 10.(88+k).0.0/16 and gateway .0.1; container i is the (i mod per_bridge)+2-th
/// host of its bridge's subnet.
pub struct Layout {
    pub n: usize,
    pub per_bridge: usize,
}

impl Layout {
    pub fn bridges(&self) -> usize {
        self.n.div_ceil(self.per_bridge).max(1)
    }

    pub fn bridge_of(&self, i: usize) -> usize {
        i / self.per_bridge
    }

    pub fn bridge_names(&self) -> Vec<String> {
        (0..self.bridges()).map(|k| format!("plumb{k}")).collect()
    }

    fn second_octet(k: usize) -> u8 {
        u8::try_from(88 + k).expect("at most 167 bridges")
    }

    pub fn gateway(&self, k: usize) -> [u8; 4] {
        [10, Self::second_octet(k), 0, 1]
    }

    pub fn broadcast(&self, k: usize) -> [u8; 4] {
        [10, Self::second_octet(k), 255, 255]
    }

    pub fn container_ip(&self, i: usize) -> [u8; 4] {
        let host = i % self.per_bridge + 2;
        [
            10,
            Self::second_octet(self.bridge_of(i)),
            (host >> 8) as u8,
            host as u8,
        ]
    }

    /// iptables-restore input: one MASQUERADE per bridge, appended ('A') or deleted ('D').
    pub fn masquerade_rules(&self, verb: char) -> String {
        let mut text = String::from("*nat\n");
        for k in 0..self.bridges() {
            text += &format!(
                "-{verb} POSTROUTING -s 10.{}.0.0/16 ! -o plumb{k} -j MASQUERADE\n",
                Self::second_octet(k)
            );
        }
        text + "COMMIT\n"
    }
}

/// /run/netns as `ip netns add` leaves it: a shared mount, so namespaces
/// bind-mounted there show in every mount namespace.
pub fn prepare_netns_dir() -> io::Result<()> {
    fs::create_dir_all(NETNS_DIR)?;
    let share = || mount(None, NETNS_DIR, "none", libc::MS_SHARED | libc::MS_REC);
    match share() {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            mount(
                Some(NETNS_DIR),
                NETNS_DIR,
                "none",
                libc::MS_BIND | libc::MS_REC,
            )?;
            share()
        }
        other => other,
    }
}

fn mount(source: Option<&str>, target: &str, fstype: &str, flags: libc::c_ulong) -> io::Result<()> {
    let source = source.map(|s| CString::new(s).unwrap());
    let target = CString::new(target).unwrap();
    let fstype = CString::new(fstype).unwrap();
    // SAFETY: NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::mount(
            source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the named namespaces c0, c1, ... as `ip netns add` does, on the
/// calling thread (which moves into each new namespace in turn).
pub struct NamespaceMaker {
    /// IPv6 off for new interfaces, as plumb does.
    pub ipv6_off: bool,
    /// Write that sysctl through private procfs instances, a new one every
    /// [`PROC_REUSE`] namespaces, instead of through /proc.
    pub private_proc: bool,
    made: usize,
}

/// Namespaces whose sysctls are written through one private procfs instance.
/// Every namespace that looks up /proc/sys/net/ipv6 leaves a dentry on the
/// same hash chain (same parent, same name) as long as it lives, so through
/// one procfs each lookup walks one entry per namespace made so far; a fresh
/// instance has chains of its own. The instances are mounted on a tmpfs
/// (PRIVATE_PROCS/K) that goes with one lazy unmount at the end.
const PROC_REUSE: usize = 64;
const PRIVATE_PROCS: &str = "/run/floor-proc";

impl NamespaceMaker {
    pub fn new(ipv6_off: bool, private_proc: bool) -> NamespaceMaker {
        NamespaceMaker {
            ipv6_off,
            private_proc,
            made: 0,
        }
    }

    /// `ip netns add cI`; returns a netlink socket opened inside.
    pub fn make(&mut self, i: usize) -> io::Result<OwnedFd> {
        // SAFETY: unshare only moves this thread to a new network namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        if self.ipv6_off {
            // /proc/sys/net shows the namespace of the thread that opens it.
            let proc = if self.private_proc {
                self.private_proc_now()?
            } else {
                "/proc".into()
            };
            fs::write(
                format!("{proc}/sys/net/ipv6/conf/default/disable_ipv6"),
                "1",
            )?;
        }
        self.made += 1;
        let socket = Socket::open()?.into_fd();
        let path = format!("{NETNS_DIR}/c{i}");
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &path,
            "none",
            libc::MS_BIND,
        )?;
        Ok(socket)
    }

    /// The procfs instance for the next namespace, mounted if new.
    fn private_proc_now(&self) -> io::Result<String> {
        if self.made == 0 {
            fs::create_dir_all(PRIVATE_PROCS)?;
            mount(Some("tmpfs"), PRIVATE_PROCS, "tmpfs", 0)?;
        }
        let dir = format!("{PRIVATE_PROCS}/{}", self.made / PROC_REUSE);
        if self.made.is_multiple_of(PROC_REUSE) {
            fs::create_dir(&dir)?;
            mount(Some("proc"), &dir, "proc", 0)?;
        }
        Ok(dir)
    }
}

impl Drop for NamespaceMaker {
    fn drop(&mut self) {
        if self.private_proc && self.ipv6_off && self.made > 0 {
            let _ = unmount(PRIVATE_PROCS);
            let _ = fs::remove_dir(PRIVATE_PROCS);
        }
    }
}

fn unmount(path: &str) -> io::Result<()> {
    let path = CString::new(path).unwrap();
    // SAFETY: a NUL-terminated path that outlives the call.
    if unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `ip netns del` for c0..c{n-1}, on `threads` threads: concurrent unmounts
/// share RCU grace periods.
pub fn unmount_namespaces(n: usize, threads: usize) -> io::Result<()> {
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || -> io::Result<()> {
                    for i in (t..n).step_by(threads) {
                        let path = format!("{NETNS_DIR}/c{i}");
                        unmount(&path)?;
                        fs::remove_file(path)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("unmount thread panicked"))
    })
}
