//! The command line, defined once: parsing, help, and (from the same
//! definition) completions and the man page.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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
    /// Every live run (or one) with the objects it made, and whether each
    /// is still as made: fine, missing or changed. Exits 1 on drift.
    /// `plumb check RUN` is the same (the drift check CNI's CHECK runs).
    #[command(visible_alias = "check")]
    Status {
        /// Only this run (any status).
        run: Option<String>,
        /// Print JSON (schema plumb/status/1, see docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Draw the network: namespaces as boxes, links in them, veth pairs,
    /// bridge ports, parents, NAT and published ports; coloured by owning run.
    Graph {
        /// Runs to draw (default: every run with changes in place).
        #[arg(conflicts_with_all = ["live", "input"])]
        runs: Vec<String>,
        /// Draw the kernel as it is: the host and every named namespace.
        #[arg(long, conflicts_with = "input")]
        live: bool,
        /// Draw a graph saved with --format json.
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Output format (default: from the -o file's extension, else svg).
        #[arg(long, value_enum)]
        format: Option<GraphFormat>,
        /// Write to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Who lays out SVG: plumb itself (namespaces in ranks, no other
        /// program needed), or Graphviz's dot (must be installed).
        #[arg(long, value_enum, default_value_t = Renderer::Builtin)]
        renderer: Renderer,
    },
    /// Print the script API reference.
    Doc {
        /// Only functions whose name contains this.
        name: Option<String>,
        /// Write Rhai definition files (*.d.rhai) of plumb's API and stdlib
        /// to DIR, for editors with Rhai support.
        #[arg(long, value_name = "DIR", conflicts_with = "name")]
        definitions: Option<PathBuf>,
    },
    /// Print a shell completion script: `plumb completions bash > /etc/bash_completion.d/plumb`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or with --dir write one page per command.
    Man {
        /// Write plumb.1 and plumb-COMMAND.1 pages into DIR.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
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
    List {
        /// Print JSON (schema plumb/runs/1, see docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// A run's changes with their ip/sysctl/iptables equivalents.
    Show {
        run: String,
        /// Print JSON (schema plumb/run/1, see docs/json.md).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Svg,
    Dot,
    Mermaid,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Renderer {
    Builtin,
    Graphviz,
}
