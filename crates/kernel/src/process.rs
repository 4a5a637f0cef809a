//! Programs run inside a namespace: setns(2) in the child before exec, argv only
//! (never a shell string), so nothing is re-parsed by a shell.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::Serialize;

use crate::error::{Context, Error, Result};
use crate::netns;
use crate::types::NsRef;

#[derive(Clone, Debug, Serialize)]
pub struct ExecOutput {
    /// Exit code; for a program killed by a signal, 128 + the signal, as shells report it.
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

/// A command for `argv` that enters `ns` before exec.
fn command_in(ns: &NsRef, argv: &[String]) -> Result<(Command, Option<std::os::fd::OwnedFd>)> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::invalid("command", "[]", "argv must name a program"));
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    let fd = match ns {
        NsRef::Host => None,
        other => Some(netns::open(other)?),
    };
    if let Some(fd) = &fd {
        let raw = fd.as_raw_fd();
        // SAFETY: setns is async-signal-safe; the fd stays open in the parent until spawn returns.
        unsafe {
            cmd.pre_exec(move || {
                let borrowed = std::os::fd::BorrowedFd::borrow_raw(raw);
                setns(borrowed.as_fd(), CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
            });
        }
    }
    Ok((cmd, fd))
}

thread_local! {
    /// A descriptor the programs plumb runs to completion keep open (see [`keep_open`]).
    static KEPT: std::cell::Cell<Option<i32>> = const { std::cell::Cell::new(None) };
}

/// While `fd` is kept, every program run to completion from this thread
/// holds it open too. The journal keeps its state lock this way: a
/// program that changes shared state (an iptables-restore) holds the lock
/// until it exits, even if plumb is killed under it.
pub fn keep_open(fd: Option<i32>) {
    KEPT.with(|k| k.set(fd));
}

/// Tie a program run to completion to plumb: it dies with the thread that
/// started it (no iptables-restore goes on alone after a SIGKILL), it
/// keeps [`keep_open`]'s descriptor, and it runs in a process group of its
/// own, so Ctrl-C at the terminal reaches plumb, which decides.
fn tie(cmd: &mut Command) {
    let kept = KEPT.with(|k| k.get());
    cmd.process_group(0);
    // SAFETY: prctl and fcntl are async-signal-safe and touch only the child.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(fd) = kept {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

fn spawn_error(argv: &[String], ns: &NsRef, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        return crate::programs::missing_error(
            argv[..1].to_vec(),
            &format!("running {:?} in {ns}", argv.join(" ")),
            Vec::new(),
        );
    }
    Error::io(format!("run {:?} in {ns}", argv.join(" ")), e)
}

/// Run a program to completion inside `ns`, capturing its output. It is
/// killed after `timeout`, or as soon as `cancel` is set (see [`tie`] for
/// how it is bound to plumb).
pub fn exec_in(
    ns: &NsRef,
    argv: &[String],
    timeout: Option<Duration>,
    cancel: Option<&AtomicBool>,
) -> Result<ExecOutput> {
    let (mut cmd, _fd) = command_in(ns, argv)?;
    tie(&mut cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(argv, ns, e))?;
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let (status, timed_out) = wait_with_timeout(&mut child, timeout, cancel)?;
    Ok(ExecOutput {
        code: status
            .code()
            .map(i64::from)
            .or(status.signal().map(|s| 128 + i64::from(s)))
            .unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        timed_out,
    })
}

/// Run a program in `ns` with `input` on its standard input (e.g. iptables-restore).
pub fn exec_with_input(ns: &NsRef, argv: &[String], input: &str) -> Result<ExecOutput> {
    use std::io::Write;
    let (mut cmd, _fd) = command_in(ns, argv)?;
    tie(&mut cmd);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(argv, ns, e))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .context(|| format!("run {}", argv.join(" ")))?;
    let _ = writer.join();
    Ok(ExecOutput {
        code: out.status.code().map(i64::from).unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        timed_out: false,
    })
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn wait_with_timeout(
    child: &mut Child,
    timeout: Option<Duration>,
    cancel: Option<&AtomicBool>,
) -> Result<(std::process::ExitStatus, bool)> {
    if timeout.is_none() && cancel.is_none() {
        return Ok((child.wait().context(|| "wait for child".into())?, false));
    }
    let start = Instant::now();
    let mut nap = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait().context(|| "wait for child".into())? {
            return Ok((status, false));
        }
        let cancelled = cancel.is_some_and(|c| c.load(Ordering::Relaxed));
        let timed_out = timeout.is_some_and(|limit| start.elapsed() >= limit);
        if cancelled || timed_out {
            let _ = child.kill();
            return Ok((child.wait().context(|| "wait for child".into())?, timed_out));
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// A background process started by plumb; `start_time` tells it apart from a
/// later process that reuses the pid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spawned {
    pub pid: u32,
    pub start_time: u64,
}

/// The environment variable that carries a spawned program's mark, so
/// `plumb gc` finds it (and what it started) without a journal.
pub const MARK_VAR: &str = "PLUMB_MARK";

/// Start a program in the background inside `ns`, in its own session so a
/// Ctrl-C at the terminal does not reach it; its output goes nowhere.
/// `mark` goes into its environment as [`MARK_VAR`].
pub fn spawn_in(ns: &NsRef, argv: &[String], mark: &str) -> Result<(Child, Spawned)> {
    let (mut cmd, _fd) = command_in(ns, argv)?;
    cmd.env(MARK_VAR, mark);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| spawn_error(argv, ns, e))?;
    let pid = child.id();
    let start_time = start_time(pid).ok_or_else(|| {
        Error::io(
            format!("read /proc/{pid}/stat"),
            std::io::Error::from_raw_os_error(libc::ESRCH),
        )
    })?;
    Ok((child, Spawned { pid, start_time }))
}

/// Field 22 of /proc/PID/stat (start time in clock ticks), or None if the
/// process is gone or a zombie.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    if rest.starts_with('Z') {
        return None;
    }
    stat_field(pid, 22)
}

/// The value of [`MARK_VAR`] in a process's environment, if any.
pub fn mark_of(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{MARK_VAR}=");
    environ
        .split(|b| *b == 0)
        .find_map(|var| var.strip_prefix(prefix.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Every process on the machine (in this PID namespace) that carries a mark:
/// (pid, start time, mark, command line).
pub fn marked() -> Vec<(u32, u64, String, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let mark = mark_of(pid)?;
            let started = start_time(pid)?;
            let command = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .map(|c| c.replace('\0', " ").trim().to_string())
                .unwrap_or_default();
            Some((pid, started, mark, command))
        })
        .collect()
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/stat, or None if the process is gone.
fn stat_field(pid: u32, n: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(n - 3)?.parse().ok()
}

/// The live processes of the session `sid` started at or after `since`
/// (clock ticks): a spawned program and everything it started, however it
/// regrouped them, unless they left the session.
fn session_members(sid: u32, since: u64) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            stat_field(pid, 6) == Some(u64::from(sid))
                && start_time(pid).is_some_and(|t| t >= since)
        })
        .collect()
}

/// Stop one process (not started by plumb): SIGTERM, then SIGKILL after a
/// grace period. A different process behind a reused pid is left alone.
pub fn stop_one(proc: &Spawned, grace: Duration) -> Result<()> {
    let alive = || start_time(proc.pid) == Some(proc.start_time);
    let pid = Pid::from_raw(proc.pid as i32);
    if !alive() {
        return Ok(());
    }
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !alive() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = kill(pid, Signal::SIGKILL);
    for _ in 0..200 {
        if !alive() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(Error::Timeout {
        what: format!("stop pid {}", proc.pid),
        after: grace + Duration::from_secs(1),
    })
}

/// Stop a program plumb started and everything it started: SIGTERM to its
/// whole session, then SIGKILL after a grace period. Gone already is fine;
/// a different process behind a reused pid is left alone.
pub fn stop(proc: &Spawned, grace: Duration) -> Result<()> {
    let members = || {
        let mut pids = session_members(proc.pid, proc.start_time);
        // The leader itself only if it is still the process we started.
        pids.retain(|&p| p != proc.pid || start_time(p) == Some(proc.start_time));
        pids
    };
    let signal_all = |pids: &[u32], sig: Signal| {
        for &p in pids {
            let _ = kill(Pid::from_raw(p as i32), sig);
        }
    };
    let reap = || {
        // Reaps the leader if it is our child; otherwise its parent does.
        let _ = nix::sys::wait::waitpid(
            Pid::from_raw(proc.pid as i32),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
    };
    let pids = members();
    if pids.is_empty() {
        return Ok(());
    }
    signal_all(&pids, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        reap();
        if members().is_empty() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..200 {
        let left = members();
        if left.is_empty() {
            return Ok(());
        }
        signal_all(&left, Signal::SIGKILL);
        reap();
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(Error::Timeout {
        what: format!("stop pid {} and its children", proc.pid),
        after: grace + Duration::from_secs(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exec_captures_output_and_exit_code() {
        let out = exec_in(
            &NsRef::Host,
            &argv(&["sh", "-c", "echo hi; echo err >&2; exit 3"]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (3, "hi\n", "err\n")
        );
    }

    #[test]
    fn exec_times_out() {
        let out = exec_in(
            &NsRef::Host,
            &argv(&["sleep", "5"]),
            Some(Duration::from_millis(100)),
            None,
        )
        .unwrap();
        assert!(out.timed_out);
        assert_eq!(out.code, 128 + 9);
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let err = exec_in(&NsRef::Host, &argv(&["no-such-program-xyz"]), None, None).unwrap_err();
        assert!(
            err.to_string().starts_with("running \"no-such-program-xyz\" in the host namespace needs no-such-program-xyz, which is not installed: install the package that provides no-such-program-xyz"),
            "{err}"
        );
        let err = exec_in(&NsRef::Host, &argv(&["/nowhere/ping"]), None, None).unwrap_err();
        assert!(
            err.to_string().contains("apt-get install -y iputils-ping"),
            "{err}"
        );
    }

    #[test]
    fn a_spawned_process_tree_is_stopped_and_pid_reuse_is_respected() {
        // The shell's background child stays in the session: it must go too.
        let (_child, p) = spawn_in(
            &NsRef::Host,
            &argv(&["sh", "-c", "sleep 30 & exec sleep 31"]),
            "plumb:test/1",
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while session_members(p.pid, p.start_time).len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let tree = session_members(p.pid, p.start_time);
        assert_eq!(tree.len(), 2, "{tree:?}");
        // A later process behind the same pid: nothing of ours to stop there.
        let impostor = Spawned {
            pid: p.pid,
            start_time: p.start_time + 1_000_000,
        };
        stop(&impostor, Duration::from_millis(10)).unwrap();
        assert!(start_time(p.pid).is_some(), "the impostor check killed it");
        stop(&p, Duration::from_secs(1)).unwrap();
        for pid in tree {
            assert_eq!(start_time(pid), None, "pid {pid} survived");
        }
        stop(&p, Duration::from_secs(1)).unwrap(); // idempotent
    }

    #[test]
    fn a_cancelled_program_is_killed() {
        let cancel = AtomicBool::new(true);
        let started = Instant::now();
        let out = exec_in(&NsRef::Host, &argv(&["sleep", "5"]), None, Some(&cancel)).unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(!out.timed_out);
        assert_eq!(out.code, 128 + 9);
    }
}
