//! The Rhai side: an engine with plumb's API registered, limits that stop a
//! runaway script, module resolution, and errors that name file, line and column.

/// Register one function with its parameter names and one-line doc.
macro_rules! api {
    ($engine:expr, $name:literal, [$($param:literal),*], $doc:literal, $f:expr) => {
        ::rhai::FuncRegistration::new($name)
            .with_params_info([$($param),*])
            .with_comments([concat!("/// ", $doc)])
            .register_into_engine($engine, $f);
    };
}

pub mod api;
mod firewall_api;
pub mod handles;
mod ipam_api;
mod probe_api;
pub mod stdlib;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use rhai::module_resolvers::{FileModuleResolver, ModuleResolversCollection};
use rhai::{Dynamic, Engine, EvalAltResult, Position};

pub use api::{Api, Params};

use crate::journal::Session;

/// Limits that turn a runaway script into an error (and so a rollback).
pub const MAX_OPERATIONS: u64 = 20_000_000;

/// Set from a signal handler; the engine checks it between operations.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// An engine with the API bound to `session`. `import` takes stdlib names
/// first, then files beside the importing script (its AST's source).
pub fn engine(session: Rc<RefCell<Session>>, params: Params) -> (Engine, Api) {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(64)
        .set_max_expr_depths(128, 64)
        .set_max_string_size(4 << 20)
        .set_max_array_size(1 << 20)
        .set_max_map_size(1 << 16)
        .set_max_modules(256)
        .on_progress(|_| {
            INTERRUPTED
                .load(Ordering::Relaxed)
                .then(|| Dynamic::from("interrupted"))
        });
    let native = vec![("ipam", ipam_api::module(&mut engine))];
    let mut resolvers = ModuleResolversCollection::new();
    // stdlib names first: a script named docker.rhai must not shadow the
    // stdlib by accident (or import itself); "./docker" still reaches a local file.
    resolvers.push(stdlib::StdlibResolver::new(native));
    resolvers.push(FileModuleResolver::new());
    engine.set_module_resolver(resolvers);
    let api = Api {
        session,
        params: Rc::new(RefCell::new(params)),
        mentioned: Default::default(),
    };
    api::register(&mut engine, &api);
    probe_api::register(&mut engine, &api);
    (engine, api)
}

/// One entry of the API reference.
pub struct FnDoc {
    pub name: String,
    pub signature: String,
    pub doc: String,
}

/// The API reference, generated from the engine's own metadata so it never drifts.
pub fn reference(engine: &Engine) -> Vec<FnDoc> {
    let json = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let mut docs: Vec<FnDoc> = value["functions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let comments: Vec<&str> = f["docComments"]
                .as_array()?
                .iter()
                .filter_map(|c| c.as_str())
                .collect();
            if comments.is_empty() {
                return None; // getters and operators: documented with their types
            }
            Some(FnDoc {
                name: f["name"].as_str()?.to_string(),
                signature: f["signature"].as_str()?.to_string(),
                doc: comments
                    .iter()
                    .map(|c| c.trim_start_matches("///").trim())
                    .collect::<Vec<_>>()
                    .join(" "),
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

/// Parse `key=value` words of `--set`.
pub fn parse_sets(sets: &[String]) -> Result<BTreeMap<String, String>, String> {
    sets.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!("--set {s}: expected key=value")),
        })
        .collect()
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
    /// functions and modules it passed through.
    pub fn from_rhai(file: &str, err: &EvalAltResult) -> ScriptError {
        let mut message = String::new();
        let mut e = err;
        loop {
            match e {
                EvalAltResult::ErrorInFunctionCall(name, _, inner, _) => {
                    let at = inner.position();
                    match at.line() {
                        Some(l) => message += &format!("in {name}() at line {l}: "),
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
                EvalAltResult::ErrorTerminated(..) => {
                    message += "interrupted";
                    break;
                }
                EvalAltResult::ErrorTooManyOperations(_) => {
                    message += &format!(
                        "the script ran more than {MAX_OPERATIONS} operations (an endless loop?) and was stopped"
                    );
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
    fn sets_parse_as_key_value() {
        let m = parse_sets(&["subnet=172.18.0.0/16".into(), "name=a=b".into()]).unwrap();
        assert_eq!(m["subnet"], "172.18.0.0/16");
        assert_eq!(m["name"], "a=b");
        assert!(parse_sets(&["novalue".into()]).is_err());
        assert!(parse_sets(&["=x".into()]).is_err());
    }

    #[test]
    fn errors_print_file_line_and_column() {
        let engine = Engine::new();
        let err = engine.run("let x = 1;\n  throw \"boom\";").unwrap_err();
        let located = ScriptError::from_rhai("t.rhai", &err);
        assert_eq!(located.to_string(), "t.rhai:2:3: boom");
        let err = engine.compile("let = ;").unwrap_err();
        let located = ScriptError::from_rhai("t.rhai", &err.into());
        assert!(located.to_string().starts_with("t.rhai:1:5: "), "{located}");
    }
}
