//! plumb: container networking as reusable, journaled Rhai scripts.
//!
//! Layers, one direction: the front ends (cli, commands, repl) → script (Rhai
//! registrations) → plan (what primitives mean) → plumb-journal (ops, the
//! journal, undo) → plumb-kernel (netlink, namespaces, iptables). See
//! ARCHITECTURE.md.

/// std's `eprintln!`, but a closed or full standard error is ignored: a
/// message that cannot be shown must not stop a rollback (std's panics).
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// std's `println!`, but a closed standard output (`plumb test | head`) is
/// ignored instead of a panic. Listings that should stop use
/// `commands::print_lines`.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod cli;
mod cni;
mod commands;
mod error;
mod graph;
mod ipam;
mod plan;
mod progress;
mod repl;
mod sandbox;
mod schema;
mod script;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, JournalCommand};
use commands::{rollback::Which, run};

fn main() -> ExitCode {
    // A runtime runs plugins without arguments, the call in CNI_* variables.
    if cni::invoked() {
        return cni::main();
    }
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
        // `plumb journal list | head`: the reader has what it wanted.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plumb: {e}");
            ExitCode::from(2)
        }
    }
}

fn status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn params(sets: &[String]) -> error::Result<std::collections::BTreeMap<String, String>> {
    script::parse_sets(sets).map_err(error::Error::Usage)
}

fn dispatch(command: Command, sandboxed: bool) -> error::Result<ExitCode> {
    if sandboxed {
        sandbox::loopback_up()?;
    }
    match command {
        Command::Run {
            script,
            sets,
            dry_run,
        } => Ok(
            match run::run(run::RunArgs {
                script,
                params: params(&sets)?,
                dry_run,
            })? {
                run::Outcome::Applied => ExitCode::SUCCESS,
                run::Outcome::Failed(code) => ExitCode::from(code),
            },
        ),
        Command::Rollback {
            run,
            last,
            all,
            force,
            kill,
        } => {
            let which = match (run, last, all) {
                (Some(id), _, _) => Which::Run(id),
                (None, true, _) => Which::Last,
                _ => Which::All,
            };
            commands::rollback::rollback(which, force, kill).map(status)
        }
        Command::Journal(JournalCommand::List { json }) => {
            commands::journal::list(json).map(|()| ExitCode::SUCCESS)
        }
        Command::Journal(JournalCommand::Show { run, json }) => {
            commands::journal::show(&run, json).map(|()| ExitCode::SUCCESS)
        }
        Command::Status { run, json } => {
            commands::status::status(run.as_deref(), json).map(|verdict| match verdict {
                commands::status::Verdict::Fine => ExitCode::SUCCESS,
                commands::status::Verdict::Drift => ExitCode::from(1),
                commands::status::Verdict::Unknown => ExitCode::from(2),
            })
        }
        Command::Graph {
            runs,
            live,
            input,
            format,
            output,
            renderer,
        } => commands::graph::graph(commands::graph::GraphArgs {
            runs,
            live,
            input,
            format,
            output,
            renderer,
        })
        .map(|()| ExitCode::SUCCESS),
        Command::Completions { shell } => {
            commands::completions::completions(shell).map(|()| ExitCode::SUCCESS)
        }
        Command::Man { dir } => {
            commands::completions::man(dir.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        Command::Doc {
            definitions: Some(dir),
            ..
        } => commands::completions::definitions(&dir).map(|()| ExitCode::SUCCESS),
        Command::Gc { yes } => commands::gc::gc(yes).map(status),
        Command::Doc { name, .. } => {
            commands::doc::doc(name.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        Command::Repl {
            sets,
            rollback_on_exit,
        } => repl::repl(repl::ReplArgs {
            params: params(&sets)?,
            rollback_on_exit,
        })
        .map(ExitCode::from),
        Command::Test {
            paths,
            jobs,
            timeout,
            junit,
        } => {
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            if !(timeout.is_finite() && timeout > 0.0) {
                return Err(error::Error::Usage(format!(
                    "--timeout {timeout}: it must be a positive number of seconds"
                )));
            }
            commands::test::test(commands::test::TestArgs {
                paths,
                jobs,
                timeout: std::time::Duration::from_secs_f64(timeout),
                junit,
            })
            .map(status)
        }
        Command::Scenario { .. } if !sandboxed => Err(error::Error::Usage(
            "`plumb scenario` runs only inside a sandbox: use `plumb test FILE`".into(),
        )),
        Command::Scenario { script } => commands::test::run_in_sandbox(&script).map(status),
        Command::Sandbox { command } => commands::sandbox::exec_shell(command),
    }
}
