//! Network namespaces: named ones exactly as `ip netns add` makes them (a file
//! under /run/netns bind-mounted over the namespace, /run/netns a shared mount),
//! namespaces of a process, and "the host" (the namespace plumb started in).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};

use crate::error::{Context, Error, Result};
use crate::types::NsRef;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

/// Where `ip netns` keeps its namespaces; plumb uses the same place so both see each other.
pub const NETNS_DIR: &str = "/run/netns";

/// Linux limits interface names to 15 bytes (IFNAMSIZ - 1); namespace names get a sane limit too.
const MAX_NETNS_NAME: usize = 64;

/// The file that stands for a namespace.
pub fn path(ns: &NsRef) -> PathBuf {
    match ns {
        NsRef::Host => PathBuf::from("/proc/self/ns/net"),
        NsRef::Named(name) => Path::new(NETNS_DIR).join(name),
        NsRef::Pid(pid) => PathBuf::from(format!("/proc/{pid}/ns/net")),
        NsRef::Path(path) => path.clone(),
    }
}

fn not_found(ns: &NsRef, e: std::io::Error) -> Error {
    match ns {
        NsRef::Named(name) => Error::NoSuchNetns(name.clone()),
        NsRef::Pid(_) | NsRef::Path(_) => Error::NoNamespace(ns.to_string()),
        NsRef::Host => Error::io("open /proc/self/ns/net", e),
    }
}

/// Open the namespace for setns(2) or for IFLA_NET_NS_FD.
pub fn open(ns: &NsRef) -> Result<OwnedFd> {
    match File::open(path(ns)) {
        Ok(f) => Ok(f.into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(not_found(ns, e)),
        Err(e) => Err(Error::io(format!("open {}", path(ns).display()), e)),
    }
}

/// The nsfs inode: the namespace's identity, used as an ownership mark.
pub fn inode(ns: &NsRef) -> Result<u64> {
    match fs::metadata(path(ns)) {
        Ok(m) => Ok(m.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(not_found(ns, e)),
        Err(e) => Err(Error::io(format!("stat {}", path(ns).display()), e)),
    }
}

pub fn validate_netns_name(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_NETNS_NAME {
        "it is longer than 64 bytes"
    } else if name == "." || name == ".." || name.contains('/') {
        "it must be a plain file name (no '/', not '.' or '..')"
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it contains white space or control characters"
    } else {
        return Ok(());
    };
    Err(Error::invalid("namespace name", name, why))
}

/// Run `f` on a short-lived thread that has entered `ns`. The calling thread
/// (and the async runtime's) never changes namespace.
pub fn in_netns<T: Send>(ns: &NsRef, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    if *ns == NsRef::Host {
        return f();
    }
    let fd = open(ns)?;
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(fd.as_fd(), CloneFlags::CLONE_NEWNET).context(|| format!("enter {ns}"))?;
            f()
        })
        .join()
        .expect("namespace worker thread panicked")
    })
}

/// Set once /run/netns is prepared: a run creating hundreds of namespaces
/// checks it once, not once per namespace.
static NETNS_DIR_READY: AtomicBool = AtomicBool::new(false);

/// `/run/netns` must exist and be a shared mount point, as `ip netns add` makes it,
/// so that namespaces bind-mounted there propagate to every mount namespace.
fn prepare_netns_dir() -> Result<()> {
    if NETNS_DIR_READY.load(Ordering::Relaxed) {
        return Ok(());
    }
    prepare_netns_dir_now()?;
    NETNS_DIR_READY.store(true, Ordering::Relaxed);
    Ok(())
}

fn prepare_netns_dir_now() -> Result<()> {
    let dir = Path::new(NETNS_DIR);
    fs::create_dir_all(dir).context(|| format!("create {NETNS_DIR}"))?;
    let share = || {
        mount(
            None::<&str>,
            dir,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match share() {
        Ok(()) => Ok(()),
        Err(nix::Error::EINVAL) => {
            // Not a mount point yet: bind it onto itself, then share it.
            mount(
                Some(dir),
                dir,
                Some("none"),
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .context(|| format!("bind-mount {NETNS_DIR} onto itself"))?;
            share().context(|| format!("make {NETNS_DIR} a shared mount"))
        }
        Err(e) => Err(e).context(|| format!("make {NETNS_DIR} a shared mount")),
    }
}

/// The extended attribute that marks a namespace file as plumb's before it
/// is mounted: a run killed between creating the file and mounting the
/// namespace on it leaves a file `plumb gc` can still tell apart.
const MARK_XATTR: &str = "trusted.plumb";

/// Create the file a namespace is bind-mounted on (refusing a taken name),
/// marked with `mark`.
fn reserve_path(name: &str, mark: &str) -> Result<PathBuf> {
    validate_netns_name(name)?;
    prepare_netns_dir()?;
    let path = Path::new(NETNS_DIR).join(name);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o000)
        .open(&path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::kernel(format!("create namespace '{name}'"), e)
            } else {
                Error::io(format!("create {}", path.display()), e)
            }
        })?;
    // Best effort: a file system without trusted xattrs only loses the mark.
    let _ = xattr::set(&path, MARK_XATTR, mark);
    Ok(path)
}

/// The mark on an unmounted namespace file (see [`MARK_XATTR`]).
pub fn file_mark(name: &str) -> Option<String> {
    xattr::get(&Path::new(NETNS_DIR).join(name), MARK_XATTR)
}

/// Is /run/netns/NAME a mounted namespace (and not a file left half-made)?
pub fn is_mounted(name: &str) -> bool {
    nix::sys::statfs::statfs(&Path::new(NETNS_DIR).join(name))
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
}

/// Extended attributes, which std and nix do not wrap.
mod xattr {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    fn c(path: &Path) -> Option<CString> {
        CString::new(path.as_os_str().as_bytes()).ok()
    }

    pub fn set(path: &Path, name: &str, value: &str) -> std::io::Result<()> {
        let (path, name) = (
            c(path).ok_or(std::io::ErrorKind::InvalidInput)?,
            CString::new(name)?,
        );
        // SAFETY: NUL-terminated strings and a buffer of the given length.
        let rc = unsafe {
            libc::setxattr(
                path.as_ptr(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    pub fn get(path: &Path, name: &str) -> Option<String> {
        let (path, name) = (c(path)?, CString::new(name).ok()?);
        let mut buf = vec![0u8; 256];
        // SAFETY: NUL-terminated strings and a buffer of the given length.
        let n = unsafe {
            libc::getxattr(
                path.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        (n > 0).then(|| String::from_utf8_lossy(&buf[..n as usize]).into_owned())
    }
}

/// Bind-mount `source` (a namespace) on a reserved path; undo the reservation on failure.
fn mount_on(path: &Path, source: &str) -> Result<u64> {
    let mounted = mount(
        Some(source),
        path,
        Some("none"),
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .context(|| format!("bind-mount the new namespace on {}", path.display()));
    let inode = mounted.and_then(|()| {
        fs::metadata(path)
            .map(|m| m.ino())
            .context(|| format!("stat {}", path.display()))
    });
    if inode.is_err() {
        let _ = umount2(path, MntFlags::MNT_DETACH);
        let _ = fs::remove_file(path);
    }
    inode
}

/// A namespace not yet named: lo up, IPv6 off for new interfaces unless
/// asked for, a netlink socket opened inside. Held only by its descriptor, so
/// an unused one vanishes with plumb (it never appears under /run/netns).
pub struct Unnamed {
    pub ns: OwnedFd,
    pub socket: OwnedFd,
}

/// Make a namespace now, on a short-lived thread.
pub fn make(ipv6: bool) -> Result<Unnamed> {
    std::thread::scope(|s| {
        s.spawn(|| make_namespace(ipv6))
            .join()
            .expect("namespace creation thread panicked")
    })
}

/// Name a made namespace (`ip netns add NAME`): a file marked with `mark`
/// under /run/netns, the namespace bind-mounted on it. Returns its inode.
pub fn name(name: &str, ns: &OwnedFd, mark: &str) -> Result<u64> {
    let path = reserve_path(name, mark)?;
    mount_on(&path, &format!("/proc/self/fd/{}", ns.as_raw_fd()))
}

/// Makes spare namespaces on a background thread, a couple ahead of use.
/// Creating a namespace is the costliest step of `ip netns add` (the kernel
/// sets up every per-namespace subsystem), and this way it runs on another
/// core while the main thread does the rtnetlink work of the containers.
pub struct SpareMaker {
    spares: Receiver<Result<Unnamed>>,
}

impl SpareMaker {
    pub fn start() -> Result<SpareMaker> {
        let (tx, spares) = sync_channel(1);
        std::thread::Builder::new()
            .name("plumb-netns".into())
            .spawn(move || {
                // Each unshare moves this thread into a fresh namespace; it
                // ends when the receiver is gone.
                let mut proc = PrivateProc::start();
                loop {
                    proc.renew();
                    if tx.send(make_namespace(false)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| Error::io("start the namespace thread", e))?;
        Ok(SpareMaker { spares })
    }

    /// The next spare.
    pub fn next(&self) -> Result<Unnamed> {
        self.spares.recv().unwrap_or_else(|_| {
            Err(Error::io(
                "make a namespace",
                std::io::Error::other("the namespace thread stopped"),
            ))
        })
    }
}

/// Procfs instances of the namespace thread's own, a new one every
/// [`PrivateProc::REUSE`] namespaces. Every namespace that writes
/// /proc/sys/net/ipv6/... leaves a dentry on the same hash chain of its
/// procfs while it lives, so through the machine's /proc each write walks
/// one entry per live namespace (21% of the kernel's work at W5000,
/// bench/FLOOR.md); a fresh instance starts with short chains. They are
/// mounted over /proc in a mount namespace of the thread's own (nothing
/// of it is seen elsewhere, and it goes with the thread); without one the
/// thread writes through /proc as before.
struct PrivateProc {
    active: bool,
    made: usize,
}

impl PrivateProc {
    const REUSE: usize = 64;

    fn start() -> PrivateProc {
        let private = unshare(CloneFlags::CLONE_FS | CloneFlags::CLONE_NEWNS).is_ok()
            && mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .is_ok();
        PrivateProc {
            active: private,
            made: 0,
        }
    }

    /// Before each namespace: a fresh instance when the last has served
    /// its share.
    fn renew(&mut self) {
        if self.active && self.made.is_multiple_of(Self::REUSE) {
            if self.made > 0 {
                let _ = umount2("/proc", MntFlags::MNT_DETACH);
            }
            self.active = mount(
                Some("proc"),
                "/proc",
                Some("proc"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                None::<&str>,
            )
            .is_ok();
        }
        self.made += 1;
    }
}

/// Move the calling thread into a new namespace and prepare it there.
fn make_namespace(ipv6: bool) -> Result<Unnamed> {
    unshare(CloneFlags::CLONE_NEWNET).context(|| "unshare(CLONE_NEWNET)".into())?;
    let ns = File::open("/proc/thread-self/ns/net")
        .context(|| "open the new namespace".into())?
        .into();
    if !ipv6 {
        crate::sysctl::write_here(
            Path::new("/proc/sys/net/ipv6/conf/default/disable_ipv6"),
            "1",
        )
        .map_err(|e| Error::io("disable IPv6 in the new namespace", e))?;
    }
    loopback_up_here()?;
    let socket = crate::netlink::open_socket()?;
    Ok(Unnamed { ns, socket })
}

/// `ip link set lo up` in the calling thread's namespace, by ioctl: this
/// thread has no netlink runtime, and lo needs nothing more.
fn loopback_up_here() -> Result<()> {
    let fail = |e| Error::kernel("bring lo up in the new namespace", e);
    // SAFETY: plain socket and ioctl calls on a zeroed ifreq naming "lo".
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(fail(std::io::Error::last_os_error()));
        }
        let sock = OwnedFd::from_raw_fd(sock);
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo") {
            *dst = *src as libc::c_char;
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            return Err(fail(std::io::Error::last_os_error()));
        }
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) < 0 {
            return Err(fail(std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Delete a named namespace (`ip netns delete NAME`); the kernel then removes its
/// links in batches. Refuses when `expect_inode` is given and does not match: the
/// name now belongs to a namespace someone else made. A file there that is no
/// namespace (left by a process killed between creating and mounting it) is
/// removed, as `ip netns del` does.
pub fn delete(name: &str, expect_inode: Option<u64>) -> Result<()> {
    let ns = NsRef::Named(name.into());
    let path = path(&ns);
    let mounted = match nix::sys::statfs::statfs(&path) {
        // nsfs: the file is a mounted namespace.
        Ok(fs) => fs.filesystem_type() == nix::sys::statfs::NSFS_MAGIC,
        Err(nix::Error::ENOENT) => return Err(Error::NoSuchNetns(name.into())),
        Err(e) => return Err(e).context(|| format!("statfs {}", path.display())),
    };
    if mounted {
        let inode = inode(&ns)?;
        if let Some(expected) = expect_inode {
            if inode != expected {
                return Err(Error::NotOurs {
                    what: ns.to_string(),
                    detail: format!("inode {inode}, this run made {expected}"),
                });
            }
        }
        match umount2(&path, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::Error::EINVAL) => {}
            Err(e) => return Err(e).context(|| format!("unmount {}", path.display())),
        }
    }
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("remove {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

/// The processes whose network namespace is one of `inodes`, by inode, as
/// "PID (COMMAND)": what keeps a deleted namespace alive. One pass over /proc.
pub fn processes_in(inodes: &[u64]) -> HashMap<u64, Vec<(u32, String)>> {
    let mut found: HashMap<u64, Vec<(u32, String)>> = HashMap::new();
    if inodes.is_empty() {
        return found;
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(meta) = fs::metadata(format!("/proc/{pid}/ns/net")) else {
            continue;
        };
        if inodes.contains(&meta.ino()) {
            let command = fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .map(|c| c.replace('\0', " ").trim().to_string())
                .unwrap_or_default();
            found.entry(meta.ino()).or_default().push((pid, command));
        }
    }
    found
}

/// Names under /run/netns, sorted.
pub fn list_named() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(NETNS_DIR)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The inode of the namespace this process runs in.
pub fn host_inode() -> Result<u64> {
    inode(&NsRef::Host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(validate_netns_name("netns0").is_ok());
        for bad in ["", ".", "..", "a/b", "has space", &"x".repeat(65)] {
            let err = validate_netns_name(bad).unwrap_err().to_string();
            assert!(err.contains("invalid namespace name"), "{bad}: {err}");
        }
    }
}
