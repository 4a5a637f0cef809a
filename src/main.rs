//! plumb: container networking as reusable, journaled Rhai scripts.

mod error;
mod ipam;
mod journal;
mod kernel;
mod repl;
mod run;
mod sandbox;
mod scenario;
mod script;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build container networks from Rhai scripts; every change is journaled and can be undone.
#[derive(Parser)]
#[command(name = "plumb", version, about, propagate_version = true)]
struct Cli {
    /// Run in a throw-away network + mount + PID namespace with a private /run:
    /// nothing touches this machine's network, and everything vanishes at exit.
    #[arg(long, global = true)]
    sandbox: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a script; on any error, undo everything it did and exit non-zero.
    Run {
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
        /// Roll back even if the run's process still seems alive.
        #[arg(long)]
        force: bool,
    },
    /// List runs or show one.
    #[command(subcommand)]
    Journal(JournalCommand),
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
        /// Undo the session's changes when it ends.
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
enum JournalCommand {
    /// Every run with its status: running, applied, rolled back, incomplete.
    List,
    /// A run's changes with their ip/sysctl/iptables equivalents.
    Show { run: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let sandboxed = cli.sandbox || matches!(cli.command, Command::Sandbox { .. });
    if sandboxed {
        if let Err(e) = sandbox::enter() {
            eprintln!("plumb: {e}");
            return ExitCode::from(2);
        }
    }
    match dispatch(cli.command, sandboxed) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("plumb: {e}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(command: Command, sandboxed: bool) -> error::Result<ExitCode> {
    if sandboxed {
        // The sandbox plays the host: its loopback is up, as a machine's is.
        kernel::Kernel::new()?.set_link(&kernel::NsRef::Host, "lo", &kernel::LinkChange::Up)?;
    }
    match command {
        Command::Run {
            script,
            sets,
            dry_run,
        } => {
            let params = script::parse_sets(&sets)
                .map_err(|e| error::Error::invalid("parameter", "--set", e))?;
            Ok(
                match run::run(run::RunArgs {
                    script,
                    params,
                    dry_run,
                })? {
                    run::Outcome::Applied => ExitCode::SUCCESS,
                    run::Outcome::Failed => ExitCode::from(1),
                },
            )
        }
        Command::Rollback {
            run,
            last,
            all,
            force,
        } => {
            let which = match (run, last, all) {
                (Some(id), _, _) => run::Which::Run(id),
                (None, true, _) => run::Which::Last,
                _ => run::Which::All,
            };
            Ok(if run::rollback(which, force)? {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Journal(JournalCommand::List) => run::journal_list().map(|()| ExitCode::SUCCESS),
        Command::Journal(JournalCommand::Show { run }) => {
            run::journal_show(&run).map(|()| ExitCode::SUCCESS)
        }
        Command::Doc { name } => {
            print_reference(name.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Repl {
            sets,
            rollback_on_exit,
        } => {
            let params = script::parse_sets(&sets)
                .map_err(|e| error::Error::invalid("parameter", "--set", e))?;
            let clean = repl::repl(repl::ReplArgs {
                params,
                rollback_on_exit,
            })?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Test {
            paths,
            jobs,
            timeout,
            junit,
        } => {
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            if !(timeout.is_finite() && timeout > 0.0) {
                return Err(error::Error::invalid(
                    "timeout",
                    timeout.to_string(),
                    "it must be a positive number of seconds",
                ));
            }
            let passed = scenario::test(scenario::TestArgs {
                paths,
                jobs,
                timeout: std::time::Duration::from_secs_f64(timeout),
                junit,
            })?;
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Scenario { .. } if !sandboxed => Err(error::Error::invalid(
            "command",
            "scenario",
            "it runs only inside a sandbox: use `plumb test FILE`",
        )),
        Command::Scenario { script } => Ok(if scenario::run_in_sandbox(&script)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }),
        Command::Sandbox { command } => exec_shell(command),
    }
}

fn print_reference(filter: Option<&str>) -> error::Result<()> {
    let session = journal::Session::dry_run(kernel::Kernel::new()?, Box::new(std::io::sink()));
    let (engine, _) = script::engine(
        std::rc::Rc::new(std::cell::RefCell::new(session)),
        Default::default(),
    );
    for f in script::reference(&engine) {
        if filter.is_none_or(|n| f.name.contains(n)) {
            println!("{}\n    {}\n", f.signature, f.doc);
        }
    }
    for f in script::stdlib::reference(&engine) {
        if filter.is_none_or(|n| f.name.contains(n)) {
            println!("{}\n    {}\n", f.signature, f.doc);
        }
    }
    Ok(())
}

/// Replace this process with `command` (or the user's shell) inside the sandbox.
fn exec_shell(command: Vec<String>) -> error::Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let command = if command.is_empty() {
        vec![std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into())]
    } else {
        command
    };
    let err = std::process::Command::new(&command[0])
        .args(&command[1..])
        .exec();
    Err(error::Error::io(format!("run {}", command[0]), err))
}
