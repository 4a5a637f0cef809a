//! The Rhai side: a thin layer of registrations over the plans (`crate::plan`)
//! and the session. Each area registers its functions (the list is
//! [`AREAS`]); each function carries its doc, which `plumb doc` prints.
//! Here: the engine with limits that stop a runaway script, module
//! resolution, and errors that name file, line and column.

/// Register one function with its parameter names and one-line doc.
macro_rules! api {
    ($engine:expr, $name:literal, [$($param:literal),*], $doc:literal, $f:expr) => {
        ::rhai::FuncRegistration::new($name)
            .with_params_info([$($param),*])
            .with_comments([concat!("/// ", $doc)])
            .register_into_engine($engine, $f);
    };
}

/// Register `NAME(name, options)` (in the host namespace) and
/// `NAME(ns, name, options)` over one implementation `f(ctx, ns, name, opts)`.
macro_rules! in_netns {
    ($engine:expr, $name:literal, $ret:literal, $allowed:expr, $doc:literal, $f:expr) => {{
        let f = $f;
        let host = f.clone();
        api!(
            $engine,
            $name,
            ["name: &str", "options: Map", $ret],
            $doc,
            move |ctx: ::rhai::NativeCallContext, name: &str, opts: ::rhai::Map| host(
                &ctx,
                ::plumb_kernel::NsRef::Host,
                name,
                $crate::script::convert::Opts::new($name, opts, $allowed)?
            )
        );
        api!(
            $engine,
            $name,
            ["ns: Netns", "name: &str", "options: Map", $ret],
            "The same inside namespace `ns`.",
            move |ctx: ::rhai::NativeCallContext,
                  ns: $crate::script::convert::Netns,
                  name: &str,
                  opts: ::rhai::Map| f(
                &ctx,
                ns.0,
                name,
                $crate::script::convert::Opts::new($name, opts, $allowed)?
            )
        );
    }};
}

mod addressing;
mod context;
pub mod convert;
mod firewall;
mod ipam;
mod links;
mod memory;
mod namespaces;
pub mod needs;
mod probes;
mod processes;
mod queries;
pub mod stdlib;
mod utilities;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use rhai::module_resolvers::{FileModuleResolver, ModuleResolversCollection};
use rhai::{Dynamic, Engine, EvalAltResult, Position};

pub use context::{parse_sets, Api, Params};
pub use utilities::{exit_request, similar};

use plumb_journal::Session;

/// Every area's registrations, in the order `plumb doc` groups them.
const AREAS: &[fn(&mut Engine, &Api)] = &[
    namespaces::register,
    links::register,
    addressing::register,
    firewall::register,
    processes::register,
    queries::register,
    probes::register,
    utilities::register,
];

/// Limits that turn a runaway script into an error (and so a rollback).
pub const MAX_OPERATIONS: u64 = 20_000_000;
/// Heap a script may hold before it is stopped, checked after every
/// operation (see [`memory`]); Rhai's own data size limits stay off.
const MAX_MEMORY: usize = 1 << 30;

/// Set from a signal handler; the engine checks it between operations.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// An engine with the API bound to `session`. `import` takes stdlib names
/// first, then files beside the importing script (its AST's source).
pub fn engine(session: Rc<RefCell<Session>>, params: Params) -> (Engine, Api) {
    let mut engine = Engine::new();
    session.borrow_mut().set_cancel(&INTERRUPTED);
    let api = Api::new(session, params);
    // What the script prints goes through the session: a dry run turns it
    // into `echo`; a closed standard output stops the script.
    let stdout_failure: Rc<RefCell<Option<String>>> = Rc::default();
    let (printer, failure) = (api.clone(), stdout_failure.clone());
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(64)
        .set_max_expr_depths(128, 64)
        .set_max_modules(256)
        .on_print(move |text| {
            if let Err(e) = printer.session.borrow_mut().say(text) {
                *failure.borrow_mut() = Some(e.to_string());
            }
        })
        .on_debug(|text, _, _| eprintln!("{text}"))
        .on_progress(move |_| {
            if let Some(e) = stdout_failure.borrow().as_ref() {
                return Some(Dynamic::from(e.clone()));
            }
            if INTERRUPTED.load(Ordering::Relaxed) {
                return Some(Dynamic::from("interrupted"));
            }
            if memory::allocated() > MAX_MEMORY {
                return Some(Dynamic::from(format!(
                    "the script used more than {} MiB of memory and was stopped",
                    MAX_MEMORY >> 20
                )));
            }
            None
        });
    let native = vec![("ipam", ipam::module(&mut engine, Some(&api)))];
    let mut resolvers = ModuleResolversCollection::new();
    // stdlib names first: a script named docker.rhai must not shadow the
    // stdlib by accident (or import itself); "./docker" still reaches a local file.
    resolvers.push(stdlib::StdlibResolver::new(native));
    resolvers.push(FileModuleResolver::new());
    engine.set_module_resolver(resolvers);
    for (name, source) in stdlib::MODULES {
        api.add_source(&format!("stdlib/{name}.rhai"), source);
    }
    for register in AREAS {
        register(&mut engine, &api);
    }
    (engine, api)
}

/// One entry of the API reference.
pub struct FnDoc {
    pub name: String,
    pub signature: String,
    pub doc: String,
}

/// The API reference, generated from the engine's own metadata so it never
/// drifts: native functions, the native ipam module, then the stdlib's Rhai modules.
pub fn reference(engine: &Engine) -> Vec<FnDoc> {
    let mut docs = documented(engine);
    docs.extend(ipam::reference());
    docs.extend(stdlib::reference(engine));
    docs
}

/// The documented functions in an engine's metadata, static modules' ones
/// as `module::name`.
fn documented(engine: &Engine) -> Vec<FnDoc> {
    let json = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let mut lists = vec![(String::new(), &value["functions"])];
    if let Some(modules) = value["modules"].as_object() {
        lists.extend(
            modules
                .iter()
                .map(|(m, v)| (format!("{m}::"), &v["functions"])),
        );
    }
    let mut docs: Vec<FnDoc> = lists
        .into_iter()
        .flat_map(|(prefix, list)| {
            list.as_array().into_iter().flatten().filter_map(move |f| {
                let comments: Vec<&str> = f["docComments"]
                    .as_array()?
                    .iter()
                    .filter_map(|c| c.as_str())
                    .collect();
                if comments.is_empty() {
                    return None; // getters and operators: documented with their types
                }
                Some(FnDoc {
                    name: format!("{prefix}{}", f["name"].as_str()?),
                    signature: format!("{prefix}{}", f["signature"].as_str()?),
                    doc: comments
                        .iter()
                        .map(|c| c.trim_start_matches("///").trim())
                        .collect::<Vec<_>>()
                        .join(" "),
                })
            })
        })
        .collect();
    docs.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then(a.signature.len().cmp(&b.signature.len()))
    });
    docs
}

/// A script failure, located: `FILE:LINE:COL: message`.
#[derive(Debug)]
pub struct ScriptError {
    pub file: String,
    pub position: Position,
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.position.line(), self.position.position()) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Rhai appends " (line L, position P)" to messages; the location is printed in front instead.
fn strip_position(text: &str) -> &str {
    match text.rfind(" (line ") {
        Some(i) if text.ends_with(')') => &text[..i],
        _ => text,
    }
}

impl ScriptError {
    /// Locate an error at its outermost position in `file`, naming the
    /// functions and modules it passed through; a misspelt function gets
    /// the nearest names `engine` knows.
    pub fn from_rhai(engine: &Engine, file: &str, err: &EvalAltResult) -> ScriptError {
        let mut message = String::new();
        let mut e = err;
        loop {
            match e {
                EvalAltResult::ErrorInFunctionCall(name, source, inner, _) => {
                    let at = inner.position();
                    let in_file = if source.is_empty() {
                        String::new()
                    } else {
                        format!("{source}:")
                    };
                    match at.line() {
                        Some(l) => message += &format!("in {name}() at {in_file}{l}: "),
                        None => message += &format!("in {name}(): "),
                    }
                    e = inner;
                }
                EvalAltResult::ErrorInModule(name, inner, _) => {
                    message += &format!("in module '{name}': ");
                    e = inner;
                }
                EvalAltResult::ErrorRuntime(value, _) => {
                    message += &value.to_string();
                    break;
                }
                EvalAltResult::ErrorTerminated(token, _) => {
                    match utilities::exit_request(e) {
                        Some(code) => message += &format!("the script called exit({code})"),
                        None => message += &token.to_string(),
                    }
                    break;
                }
                EvalAltResult::ErrorTooManyOperations(_) => {
                    message += &format!(
                        "the script ran more than {MAX_OPERATIONS} operations (an endless loop?) and was stopped"
                    );
                    break;
                }
                EvalAltResult::ErrorFunctionNotFound(signature, _) => {
                    message += &utilities::explain_missing(engine, signature);
                    break;
                }
                other => {
                    message += strip_position(&other.to_string());
                    break;
                }
            }
        }
        ScriptError {
            file: file.to_string(),
            position: err.position(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_file_line_and_column() {
        let engine = Engine::new();
        let err = engine.run("let x = 1;\n  throw \"boom\";").unwrap_err();
        let located = ScriptError::from_rhai(&engine, "t.rhai", &err);
        assert_eq!(located.to_string(), "t.rhai:2:3: boom");
        let err = engine.compile("let = ;").unwrap_err();
        let located = ScriptError::from_rhai(&engine, "t.rhai", &err.into());
        assert!(located.to_string().starts_with("t.rhai:1:5: "), "{located}");
    }
}
