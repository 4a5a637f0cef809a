//! `plumb sandbox [-- CMD...]`: a shell (or CMD) in a fresh sandbox.

use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use crate::error::{Error, Result};

/// Replace this process with `command` (or the user's shell) inside the sandbox.
pub fn exec_shell(command: Vec<String>) -> Result<ExitCode> {
    let command = if command.is_empty() {
        vec![std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into())]
    } else {
        command
    };
    let err = std::process::Command::new(&command[0])
        .args(&command[1..])
        .exec();
    Err(Error::io(format!("run {}", command[0]), err))
}
