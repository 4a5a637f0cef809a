//! Programs run inside a namespace: setns(2) in the child before exec, argv only
//! (never a shell string), so nothing is re-parsed by a shell.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::Serialize;

use super::netns::NsRef;
use crate::error::{Context, Error, Result};

#[derive(Clone, Debug, Serialize)]
pub struct ExecOutput {
    /// Exit code; for a program killed by a signal, 128 + the signal, as shells report it.
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

fn command_in(ns: &NsRef, argv: &[String]) -> Result<(Command, Option<std::os::fd::OwnedFd>)> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::invalid("command", "[]", "argv must name a program"));
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    let fd = match ns {
        NsRef::Host => None,
        other => Some(other.open()?),
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

fn spawn_error(argv: &[String], ns: &NsRef, e: std::io::Error) -> Error {
    let hint = if e.kind() == std::io::ErrorKind::NotFound {
        " (is it installed and on PATH?)"
    } else {
        ""
    };
    Error::io(format!("run {:?} in {ns}{hint}", argv.join(" ")), e)
}

/// Run a program to completion inside `ns`, capturing its output.
pub fn exec_in(ns: &NsRef, argv: &[String], timeout: Option<Duration>) -> Result<ExecOutput> {
    let (mut cmd, _fd) = command_in(ns, argv)?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(argv, ns, e))?;
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let (status, timed_out) = wait_with_timeout(&mut child, timeout)?;
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
) -> Result<(std::process::ExitStatus, bool)> {
    let Some(limit) = timeout else {
        return Ok((child.wait().context(|| "wait for child".into())?, false));
    };
    let start = Instant::now();
    let mut nap = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait().context(|| "wait for child".into())? {
            return Ok((status, false));
        }
        if start.elapsed() >= limit {
            let _ = child.kill();
            return Ok((child.wait().context(|| "wait for child".into())?, true));
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

/// Start a program in the background inside `ns`, in its own session so a
/// Ctrl-C at the terminal does not reach it. Output goes to `log` (or nowhere).
pub fn spawn_in(
    ns: &NsRef,
    argv: &[String],
    log: Option<&std::path::Path>,
) -> Result<(Child, Spawned)> {
    let (mut cmd, _fd) = command_in(ns, argv)?;
    let (stdout, stderr) = match log {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .context(|| format!("open log {}", path.display()))?;
            let f2 = f.try_clone().context(|| "dup log fd".into())?;
            (Stdio::from(f), Stdio::from(f2))
        }
        None => (Stdio::null(), Stdio::null()),
    };
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
        .stdout(stdout)
        .stderr(stderr)
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
    // The command name is in parentheses and may contain spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Stop a process plumb started: SIGTERM, then SIGKILL after a grace period.
/// Gone already is fine; a different process behind the same pid is left alone.
pub fn stop(proc: &Spawned, grace: Duration) -> Result<()> {
    match start_time(proc.pid) {
        None => return Ok(()),
        Some(t) if t != proc.start_time => {
            return Err(Error::Journal(format!(
                "pid {} is now another process; left alone",
                proc.pid
            )))
        }
        Some(_) => {}
    }
    let pid = Pid::from_raw(proc.pid as i32);
    let reap = || {
        // Reaps it if it is our child; otherwise its parent does.
        let _ = nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
    };
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        reap();
        if start_time(proc.pid) != Some(proc.start_time) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = kill(pid, Signal::SIGKILL);
    for _ in 0..200 {
        reap();
        if start_time(proc.pid) != Some(proc.start_time) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(Error::Journal(format!(
        "pid {} did not stop after SIGKILL",
        proc.pid
    )))
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
        )
        .unwrap();
        assert!(out.timed_out);
        assert_eq!(out.code, 128 + 9);
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let err = exec_in(&NsRef::Host, &argv(&["no-such-program-xyz"]), None).unwrap_err();
        assert!(err.to_string().contains("is it installed"), "{err}");
    }

    #[test]
    fn spawned_process_is_stopped_and_pid_reuse_is_respected() {
        let (_child, p) = spawn_in(&NsRef::Host, &argv(&["sleep", "30"]), None).unwrap();
        assert!(start_time(p.pid).is_some());
        let impostor = Spawned {
            pid: p.pid,
            start_time: p.start_time + 1,
        };
        assert!(stop(&impostor, Duration::from_millis(10)).is_err());
        stop(&p, Duration::from_secs(1)).unwrap();
        assert_eq!(start_time(p.pid), None);
        stop(&p, Duration::from_secs(1)).unwrap(); // idempotent
    }
}
