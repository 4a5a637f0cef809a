//! What shells, `man` and editors complete from, all generated so none can
//! drift from plumb itself: `plumb completions SHELL` and `plumb man` from
//! the clap definition (cli.rs), `plumb doc --definitions DIR` from the
//! script engine's metadata.

use std::cell::RefCell;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;

use clap::CommandFactory;
use rhai::Position;

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::script::{self, stdlib};
use plumb_journal::Session;
use plumb_kernel::Kernel;

pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "plumb", &mut out);
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("write to standard output", e))
}

fn render(command: clap::Command) -> Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .map_err(|e| Error::io("render the man page", e))?;
    Ok(page)
}

/// The man page on standard output, or with `dir` one page per command:
/// plumb.1, plumb-run.1, plumb-journal-list.1, ...
pub fn man(dir: Option<&Path>) -> Result<()> {
    let mut command = Cli::command();
    command.build();
    let Some(dir) = dir else {
        return write_stdout(&render(command)?);
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let mut pages = vec![("plumb".to_string(), command.clone())];
    let mut pending: Vec<(String, clap::Command)> = vec![("plumb".into(), command)];
    while let Some((prefix, parent)) = pending.pop() {
        for sub in parent.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = format!("{prefix}-{}", sub.get_name());
            // The page's title names the whole command: `plumb-journal-list`.
            let page = sub.clone().name(name.clone());
            pages.push((name.clone(), page.clone()));
            pending.push((name, page));
        }
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, render(page)?)
            .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
    }
    Ok(())
}

/// Rhai definition files of plumb's API, the ipam module and the stdlib
/// modules (each `import`able under its name), for editors with Rhai support.
pub fn definitions(dir: &Path) -> Result<()> {
    let session = Session::dry_run(Kernel::new()?, Box::new(std::io::sink()));
    let (mut engine, _api) = script::engine(Rc::new(RefCell::new(session)), Default::default());
    // ipam is native and imported at run time: registered statically here so
    // the engine describes it, with its types, as a module of its import name.
    let ipam = engine
        .module_resolver()
        .resolve(&engine, None, "ipam", Position::NONE)
        .map_err(|e| Error::Usage(format!("stdlib module ipam: {e}")))?;
    engine.register_static_module("ipam", ipam);
    let io = |e| Error::io(format!("write definitions to {}", dir.display()), e);
    engine.definitions().write_to_dir(dir).map_err(io)?;
    // The stdlib's Rhai modules carry no types; their documented functions
    // (the helpers have no doc) are written with their docs.
    for (name, source) in stdlib::MODULES {
        let ast = engine
            .compile(source)
            .map_err(|e| Error::Usage(format!("stdlib module {name}: {e}")))?;
        let mut text = format!("module {name};\n");
        for f in ast.iter_functions().filter(|f| !f.comments.is_empty()) {
            text.push('\n');
            for line in f.comments.iter().flat_map(|c| c.lines()) {
                let line = line.trim().trim_start_matches("///").trim();
                text += &format!("/// {line}\n");
            }
            let params: Vec<String> = f.params.iter().map(|p| format!("{p}: ?")).collect();
            text += &format!("fn {}({}) -> ?;\n", f.name, params.join(", "));
        }
        std::fs::write(dir.join(format!("{name}.d.rhai")), text).map_err(io)?;
    }
    eprintln!(
        "plumb: wrote Rhai definitions to {}; point your editor's Rhai support at it",
        dir.display()
    );
    Ok(())
}
