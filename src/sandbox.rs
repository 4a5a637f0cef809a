//! `--sandbox`: run plumb in a throw-away network + mount + PID namespace with
//! a private tmpfs on /run. Nothing reaches the machine's own network, and
//! everything (namespaces under /run/netns, links, rules, background
//! processes) vanishes when the command ends.
//!
//! Must be entered before any thread exists: unshare(CLONE_NEWPID) and fork
//! are only sound in a single-threaded process.

use std::process::exit;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::error::{Error, Result};
use plumb_kernel::error::Context;

/// Set in the process that entered a sandbox: what it changes ends with it.
static ENTERED: AtomicBool = AtomicBool::new(false);

/// Did this process enter a sandbox (`--sandbox`)?
pub fn entered() -> bool {
    ENTERED.load(Ordering::Relaxed)
}

/// How a command's lasting changes can be undone: by `plumb rollback RUN`,
/// or not at all in a sandbox, which vanishes when the command ends.
pub fn undo_hint(run_id: &str) -> String {
    if entered() {
        "the sandbox, and they with it, ends with this command".into()
    } else {
        format!("undo with: plumb rollback {run_id}")
    }
}

fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 1,
    }
}

/// Enter a fresh sandbox. Returns in a process that is pid 2 of a new PID
/// namespace, inside a new network and mount namespace; the calling process
/// and the namespace's init wait for it and exit with its status.
pub fn enter() -> Result<()> {
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID)
        .context(|| "create the sandbox namespaces (needs root)".into())?;
    // Nothing mounted from here on may propagate to the machine.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context(|| "make / private in the sandbox".into())?;
    mount(
        Some("tmpfs"),
        "/run",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .context(|| "mount a private tmpfs on /run".into())?;
    // SAFETY: single-threaded here (the caller guarantees it).
    match unsafe { fork() }.context(|| "fork the sandbox".into())? {
        ForkResult::Parent { child } => {
            // Ctrl-C reaches the whole foreground group; the sandboxed side handles it.
            let _ = unsafe { signal(Signal::SIGINT, SigHandler::SigIgn) };
            exit(wait_for(child))
        }
        ForkResult::Child => {}
    }
    // If the caller dies (say, `plumb test` stops a scenario that ran too
    // long), so does this init, and with it everything in the sandbox.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .context(|| "tie the sandbox to its caller".into())?;
    // pid 1 of the new PID namespace: mount its /proc, then run the command as
    // pid 2 (pid 1 ignores default-fatal signals) and reap orphans until it ends.
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .context(|| "mount /proc in the sandbox".into())?;
    // /sys/class/net should show the sandbox's links; not essential, so best effort.
    let _ = mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    );
    match unsafe { fork() }.context(|| "fork the sandboxed command".into())? {
        ForkResult::Parent { child } => {
            let _ = unsafe { signal(Signal::SIGINT, SigHandler::SigIgn) };
            loop {
                match waitpid(Pid::from_raw(-1), None) {
                    Ok(status) if status.pid() == Some(child) => exit(exit_code(status)),
                    Ok(_) => continue,
                    Err(_) => exit(1),
                }
            }
        }
        ForkResult::Child => {
            ENTERED.store(true, Ordering::Relaxed);
            Ok(())
        }
    }
}

/// The sandbox plays the host: its loopback is up, as a machine's is.
pub fn loopback_up() -> Result<()> {
    plumb_kernel::Kernel::new()?
        .set_link(
            &plumb_kernel::NsRef::Host,
            "lo",
            &plumb_kernel::LinkChange::Up,
        )
        .map_err(Error::from)
}

fn wait_for(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                return exit_code(status)
            }
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(_) => return 1,
        }
    }
}
