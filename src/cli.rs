//! The command line, defined once: parsing, help, and (from the same
//! definition) completions and the man page.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Build container networks from Rhai scripts; every change is journaled and can be undone.
#[derive(Parser)]
#[command(name = "plumb", version, about, propagate_version = true)]
pub struct Cli {
    /// Run in a throw-away network + mount + PID namespace with a private /run:
    /// nothing touches this machine's network, and everything vanishes at exit.
    #[arg(long, global = true)]
    pub sandbox: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a script; on any error, undo everything it did and exit non-zero.
    Run {
        /// The script, or - to read it from standard input.
        script: PathBuf,
        /// A parameter the script reads with param("key", default).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Print the equivalent ip/sysctl/iptables commands; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Undo a run from its journal, newest change first.
    Rollback {
        /// The run id (see `plumb journal list`).
        #[arg(required_unless_present_any = ["last", "all"], conflicts_with_all = ["last", "all"])]
        run: Option<String>,
        /// The newest run that still has changes in place.
        #[arg(long, conflicts_with = "all")]
        last: bool,
        /// Every run that still has changes in place, newest first.
        #[arg(long)]
        all: bool,
        /// Roll back even if the run's process still seems alive, or other
        /// live runs use its objects.
        #[arg(long)]
        force: bool,
        /// End processes plumb did not start that keep the run's namespaces alive.
        #[arg(long)]
        kill: bool,
    },
    /// List runs or show one.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Find what plumb made whose journal is gone (deleted, a wiped state
    /// directory, a damaged line); list it, and with --yes remove it.
    /// Objects without plumb's mark are never touched.
    Gc {
        /// Remove what was found.
        #[arg(long)]
        yes: bool,
    },
    /// Print the script API reference.
    Doc {
        /// Only functions whose name contains this.
        name: Option<String>,
    },
    /// Explore interactively: each statement is journaled and atomic; the
    /// session stays (undo with `plumb rollback`) unless --rollback-on-exit.
    Repl {
        /// A parameter scripts read with param("key", default).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Undo the session's changes when it ends (also on SIGHUP/SIGTERM).
        #[arg(long)]
        rollback_on_exit: bool,
    },
    /// Run scenario scripts, each in its own fresh sandbox, and check that
    /// rolling each back restores its sandbox. Ends with "N passed, N failed".
    Test {
        /// Scenario files, or directories of .rhai files.
        #[arg(default_value = "tests/scenarios")]
        paths: Vec<PathBuf>,
        /// Scenarios run at once (default: the number of CPUs).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Seconds a scenario may take before it is stopped and fails.
        #[arg(long, default_value_t = 120.0)]
        timeout: f64,
        /// Also write the results as JUnit XML to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// One scenario inside a sandbox (what `plumb test` runs for each file).
    #[command(hide = true)]
    Scenario { script: PathBuf },
    /// Run a command (default: a shell) inside a fresh sandbox.
    Sandbox {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum JournalCommand {
    /// Every run with its status: running, applied, rolled back, incomplete.
    List,
    /// A run's changes with their ip/sysctl/iptables equivalents.
    Show { run: String },
}
