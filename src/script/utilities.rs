//! Utilities: subnet arithmetic, parameters, run_script(), assert(),
//! sleep(), dry_run(), and the message for a function that does not exist.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use rhai::{Dynamic, Engine, EvalAltResult, Map, NativeCallContext};

use super::convert::{fail, planned, script_error, RhaiResult};
use super::{Api, ScriptError, INTERRUPTED};
use crate::plan::addressing as plan;
use plumb_kernel::error::cut;

impl Api {
    /// Run another script file in this run, with `params` as its parameters;
    /// a relative path is taken from the calling script's directory.
    fn run_script(&self, ctx: &NativeCallContext, path: &str, params: Map) -> RhaiResult<Dynamic> {
        let dir = ctx.call_source().and_then(|s| Path::new(s).parent());
        let file = dir.map_or_else(|| PathBuf::from(path), |d| d.join(path));
        let name = file.display().to_string();
        let engine = ctx.engine();
        let located = |e: &EvalAltResult| script_error(ScriptError::from_rhai(engine, &name, e));
        let source = std::fs::read_to_string(&file)
            .map_err(|e| script_error(format!("run_script(): cannot read {name}: {e}")))?;
        self.add_source(&name, &source);
        let mut ast = engine.compile(&source).map_err(|e| located(&e.into()))?;
        ast.set_source(name.as_str());
        let values: BTreeMap<String, String> = params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.params.borrow_mut().nest(values);
        let result = engine.eval_ast::<Dynamic>(&ast);
        self.params.borrow_mut().unnest();
        result.map_err(|e| match exit_request(&e) {
            Some(_) => e, // exit() ends the whole run
            None => located(&e),
        })
    }
}

/// What `exit(N)` carries out of the engine. Rhai's own `exit` becomes
/// success in every evaluation API, whatever its value; plumb's ends the
/// evaluation as a termination no `try` catches, with the code.
#[derive(Clone, Copy, Debug)]
struct ExitRequest(u8);

/// The exit code asked for by `exit(N)`: 0 (also `exit()`) is success;
/// 1 for a value that is not a number.
fn exit_code(value: &Dynamic) -> u8 {
    match value.as_int() {
        Ok(n) => n.clamp(0, 255) as u8,
        Err(_) if value.is_unit() => 0,
        Err(_) => 1,
    }
}

fn exit(value: &Dynamic) -> RhaiResult<()> {
    let request = Dynamic::from(ExitRequest(exit_code(value)));
    Err(EvalAltResult::ErrorTerminated(request, rhai::Position::NONE).into())
}

/// The code of an evaluation that ended with `exit(N)`.
pub fn exit_request(err: &EvalAltResult) -> Option<u8> {
    match err {
        EvalAltResult::ErrorTerminated(token, _) => {
            token.clone().try_cast::<ExitRequest>().map(|r| r.0)
        }
        _ => None,
    }
}

/// Sleep in short steps, so Ctrl-C ends it at once.
fn sleep(secs: f64) -> RhaiResult<()> {
    if !(0.0..=3600.0).contains(&secs) {
        return fail(format!("sleep(): {secs} is outside 0..3600 seconds"));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    loop {
        if INTERRUPTED.load(Ordering::Relaxed) {
            return fail("interrupted");
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// Rhai's type names as a script writer reads them.
fn script_type(rust: &str) -> &str {
    let rust = rust.trim();
    match rust.rsplit("::").next().unwrap_or(rust) {
        "&str" | "ImmutableString" | "String" | "&str | ImmutableString | String" => "string",
        "i64" | "INT" => "int",
        "f64" | "FLOAT" => "float",
        "bool" => "bool",
        "Map" => "map",
        "Array" => "array",
        "()" => "()",
        other => other,
    }
}

/// A signature with Rust's type names in a script writer's words:
/// `bridge(name: &str, options: Map) -> Link` is `bridge(name: string, options: map) -> Link`.
fn in_script_words(signature: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    for c in signature.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || c == '_' || c == '&' {
            word.push(c);
            continue;
        }
        out += match word.as_str() {
            "&str" => "string",
            "i64" => "int",
            "f64" => "float",
            "Map" => "map",
            "Array" => "array",
            "Dynamic" => "any",
            other => other,
        };
        word.clear();
        out.push(c);
    }
    out.pop();
    out
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// Close enough to be what was meant: a few letters off, or a prefix.
pub fn similar(typed: &str, name: &str) -> bool {
    edit_distance(typed, name) <= 2.max(typed.len() / 4) || name.starts_with(typed)
}

/// "Function not found: bridg (&str | ImmutableString | String)" in the
/// script's words: what was called, the nearest names, their signatures.
pub fn explain_missing(engine: &Engine, signature: &str) -> String {
    let (name, args) = match signature.split_once(" (") {
        Some((n, a)) => (n.trim(), a.trim_end_matches(')')),
        None => (signature.trim(), ""),
    };
    let args: Vec<&str> = if args.is_empty() {
        Vec::new()
    } else {
        // Union types hold " | " and split on ", " only between arguments.
        args.split(", ").map(script_type).collect()
    };
    let called = format!("{name}({})", args.join(", "));
    let docs = super::reference(engine);
    let same: Vec<&super::FnDoc> = docs.iter().filter(|d| d.name == name).collect();
    if !same.is_empty() {
        let forms: Vec<String> = same
            .iter()
            .map(|d| format!("  {}", in_script_words(&d.signature)))
            .collect();
        return format!(
            "{called} does not match any form of {name}: use one of\n{}",
            forms.join("\n")
        );
    }
    let mut near: Vec<(usize, &str)> = docs
        .iter()
        .map(|d| (edit_distance(name, &d.name), d.name.as_str()))
        .filter(|(_, n)| similar(name, n))
        .collect();
    near.sort();
    near.dedup_by_key(|(_, n)| *n);
    match near.first() {
        None => format!("there is no function {called} (`plumb doc` lists them)"),
        Some((_, best)) => {
            let forms: Vec<String> = docs
                .iter()
                .filter(|d| d.name == *best)
                .map(|d| format!("  {}", in_script_words(&d.signature)))
                .collect();
            let others: Vec<&str> = near.iter().skip(1).take(3).map(|(_, n)| *n).collect();
            let also = if others.is_empty() {
                String::new()
            } else {
                format!(" (or {})", others.join(", "))
            };
            format!(
                "there is no function {called}; did you mean `{best}`{also}?\n{}",
                forms.join("\n")
            )
        }
    }
}

pub fn register(engine: &mut Engine, api: &Api) {
    api!(engine, "cidr_host", ["subnet: &str", "n: i64", "String"],
        "Host n of a subnet with its prefix: cidr_host(\"172.18.0.0/16\", 10) is \"172.18.0.10/16\"; the network and broadcast addresses are refused.",
        |subnet: &str, n: i64| -> RhaiResult<String> {
            let net = planned("cidr_host", plan::parse_subnet(subnet))?;
            planned("cidr_host", plan::host(&net, n))
        });
    api!(engine, "cidr_size", ["subnet: &str", "i64"],
        "How many addresses a subnet holds, network and broadcast included: cidr_size(\"10.0.0.0/24\") is 256 (at most 2^62).",
        |subnet: &str| -> RhaiResult<i64> {
            Ok(plan::size(&planned("cidr_size", plan::parse_subnet(subnet))?))
        });
    api!(
        engine,
        "cidr_ip",
        ["cidr: &str", "String"],
        "The address part of a CIDR: cidr_ip(\"172.18.0.10/16\") is \"172.18.0.10\".",
        |cidr: &str| -> RhaiResult<String> {
            cidr.parse::<IpNet>()
                .map(|n| n.addr().to_string())
                .map_err(|_| {
                    script_error(format!(
                        "cidr_ip(): '{}' is not an address with a prefix",
                        cut(cidr)
                    ))
                })
        }
    );
    let a = api.clone();
    api!(engine, "run_script", ["path: &str", "Dynamic"],
        "Run another script in this run (its changes join this run's journal); the path is relative to the calling script.",
        move |ctx: NativeCallContext, path: &str| a.run_script(&ctx, path, Map::new()));
    let a = api.clone();
    api!(engine, "run_script", ["path: &str", "params: Map", "Dynamic"],
        "run_script() with parameters: the map plays the part of --set for that script (and only for it).",
        move |ctx: NativeCallContext, path: &str, params: Map| a.run_script(&ctx, path, params));
    let a = api.clone();
    api!(
        engine,
        "param",
        ["name: &str", "String"],
        "A required parameter given with --set NAME=VALUE.",
        move |name: &str| -> RhaiResult<String> {
            a.param(name).ok_or_else(|| {
                script_error(format!(
                    "parameter '{name}' is required: pass --set {name}=VALUE"
                ))
            })
        }
    );
    let a = api.clone();
    api!(
        engine,
        "param",
        ["name: &str", "default: &str", "String"],
        "A parameter from --set NAME=VALUE, or `default`.",
        move |name: &str, default: &str| a.param(name).unwrap_or_else(|| default.to_string())
    );
    let a = api.clone();
    api!(
        engine,
        "param",
        ["name: &str", "default: i64", "i64"],
        "An integer parameter from --set NAME=VALUE, or `default`.",
        move |name: &str, default: i64| -> RhaiResult<i64> {
            match a.param(name) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| {
                    script_error(format!(
                        "parameter '{name}': '{}' is not an integer",
                        cut(&v)
                    ))
                }),
            }
        }
    );
    let a = api.clone();
    api!(
        engine,
        "param",
        ["name: &str", "default: bool", "bool"],
        "A true/false parameter from --set NAME=VALUE, or `default`.",
        move |name: &str, default: bool| -> RhaiResult<bool> {
            match a.param(name).as_deref().map(str::trim) {
                None => Ok(default),
                Some("true" | "yes" | "1" | "on") => Ok(true),
                Some("false" | "no" | "0" | "off") => Ok(false),
                Some(v) => fail(format!(
                    "parameter '{name}': '{}' is not true or false",
                    cut(v)
                )),
            }
        }
    );
    let a = api.clone();
    api!(
        engine,
        "dry_run",
        ["bool"],
        "True when the run only prints commands (--dry-run).",
        move || a.dry_run()
    );
    api!(
        engine,
        "assert",
        ["condition: bool", "message: &str", "()"],
        "Stop the script with `message` (and roll back) unless `condition` holds.",
        |cond: bool, message: &str| if cond {
            Ok(())
        } else {
            fail(format!("assertion failed: {message}"))
        }
    );
    api!(
        engine,
        "exit",
        ["code: i64", "()"],
        "End the script: exit(0) keeps its changes; any other code rolls them back and is plumb's exit status.",
        // Any value, as Rhai's own exit takes: one that is no number is code 1.
        |code: Dynamic| exit(&code)
    );
    api!(
        engine,
        "exit",
        ["()"],
        "End the script here, keeping its changes (as exit(0)).",
        || exit(&Dynamic::UNIT)
    );
    api!(
        engine,
        "sleep",
        ["seconds: f64", "()"],
        "Pause for a number of seconds (Ctrl-C ends it).",
        |secs: f64| sleep(secs)
    );
    api!(
        engine,
        "sleep",
        ["seconds: i64", "()"],
        "Pause for a whole number of seconds (Ctrl-C ends it).",
        |secs: i64| sleep(secs as f64)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_values_become_exit_codes_that_no_try_catches() {
        assert_eq!(exit_code(&Dynamic::from(3_i64)), 3);
        assert_eq!(exit_code(&Dynamic::UNIT), 0);
        assert_eq!(exit_code(&Dynamic::from(1000_i64)), 255);
        assert_eq!(exit_code(&Dynamic::from("x")), 1);
        let mut engine = Engine::new();
        engine.register_fn("exit", |code: i64| exit(&Dynamic::from(code)));
        let err = engine
            .run("fn f() { try { exit(3); } catch { } } f(); throw \"not reached\";")
            .unwrap_err();
        assert_eq!(exit_request(&err), Some(3), "{err}");
    }

    #[test]
    fn near_names_are_found() {
        assert_eq!(edit_distance("bridg", "bridge"), 1);
        assert_eq!(edit_distance("veht", "veth"), 2);
        assert_eq!(script_type("&str | ImmutableString | String"), "string");
        assert_eq!(script_type("plumb::script::convert::Link"), "Link");
        assert_eq!(
            in_script_words("veth(ns: Netns, name: &str, options: Map) -> Link"),
            "veth(ns: Netns, name: string, options: map) -> Link"
        );
        assert_eq!(
            in_script_words("exec_in(ns: Netns, argv: Array, t: f64) -> i64"),
            "exec_in(ns: Netns, argv: array, t: float) -> int"
        );
    }
}
