//! CNI plugin mode: started with `CNI_COMMAND` set (a runtime execs
//! `<plugin dir>/plumb`, a symlink to this binary), plumb reads the network
//! config on stdin and runs its `script` for the container: ADD is a
//! journaled run keyed by (network, container id, interface); DEL rolls it
//! back (idempotent: a gone run, namespace or path is success); CHECK
//! compares the run with the kernel; STATUS, VERSION and GC answer per the
//! spec (1.1.0; 0.3.0 to 1.0.0 understood). Errors are CNI error JSON on
//! stdout with a non-zero exit; messages go to stderr, never stdout.

pub mod result;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::rc::Rc;

use rhai::{Dynamic, Map};
use serde_json::{json, Value};

use crate::commands::run::{evaluate, undo_failed, Evaluated};
use crate::script::convert::Netns;
use plumb_journal::{check, undo, Journal, Session, Status, UndoOptions};
use plumb_kernel::{Kernel, NsRef};

/// The spec's error codes plumb answers with.
mod code {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENV: u32 = 4;
    pub const IO: u32 = 5;
    pub const DECODE: u32 = 6;
    pub const INVALID_CONFIG: u32 = 7;
    /// STATUS: the plugin cannot service ADD (spec 1.1.0).
    pub const NOT_AVAILABLE: u32 = 50;
    /// Plugin-specific (100 and up): the script failed, or the network drifted.
    pub const SCRIPT: u32 = 100;
    pub const DRIFT: u32 = 101;
}

/// A CNI error answer.
#[derive(Debug)]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    pub details: String,
}

impl CniError {
    fn new(code: u32, msg: impl Into<String>) -> Self {
        CniError {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    fn details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    fn json(&self, version: &str) -> Value {
        let mut v = json!({ "cniVersion": version, "code": self.code, "msg": self.msg });
        if !self.details.is_empty() {
            v["details"] = json!(self.details);
        }
        v
    }
}

/// plumb's own errors, as CNI's I/O failure (try the verb again).
impl From<crate::error::Error> for CniError {
    fn from(e: crate::error::Error) -> Self {
        CniError::new(code::IO, e.to_string())
    }
}

impl From<plumb_journal::Error> for CniError {
    fn from(e: plumb_journal::Error) -> Self {
        CniError::new(code::IO, e.to_string())
    }
}

impl From<plumb_kernel::Error> for CniError {
    fn from(e: plumb_kernel::Error) -> Self {
        CniError::new(code::IO, e.to_string())
    }
}

type CniResult<T> = std::result::Result<T, CniError>;

/// Was plumb started as a CNI plugin?
pub fn invoked() -> bool {
    std::env::var_os("CNI_COMMAND").is_some()
}

/// The CNI_* environment of one call.
struct Env {
    command: String,
    container_id: String,
    netns: String,
    ifname: String,
    args: String,
}

impl Env {
    fn read() -> Env {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        Env {
            command: var("CNI_COMMAND"),
            container_id: var("CNI_CONTAINERID"),
            netns: var("CNI_NETNS"),
            ifname: var("CNI_IFNAME"),
            args: var("CNI_ARGS"),
        }
    }

    /// The variables a verb needs, or an error naming the missing ones.
    fn require(&self, names: &[&str]) -> CniResult<()> {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| match *n {
                "CNI_CONTAINERID" => self.container_id.is_empty(),
                "CNI_NETNS" => self.netns.is_empty(),
                "CNI_IFNAME" => self.ifname.is_empty(),
                _ => false,
            })
            .collect();
        if !missing.is_empty() {
            return Err(CniError::new(
                code::INVALID_ENV,
                format!(
                    "required environment variables missing: {}",
                    missing.join(", ")
                ),
            ));
        }
        let id = &self.container_id;
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        let well_formed =
            id.starts_with(|c: char| c.is_ascii_alphanumeric()) && id.chars().all(valid);
        if !id.is_empty() && !well_formed {
            return Err(CniError::new(
                code::INVALID_ENV,
                format!(
                    "CNI_CONTAINERID '{id}' is not a container id (letters, digits, '_', '.', '-')"
                ),
            ));
        }
        Ok(())
    }

    /// CNI_ARGS (`K=V;K=V`) as a map.
    fn args(&self) -> BTreeMap<String, String> {
        self.args
            .split(';')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// The network configuration on stdin.
struct Conf {
    version: String,
    name: String,
    raw: Value,
}

impl Conf {
    fn parse(text: &str) -> CniResult<Conf> {
        let raw: Value = serde_json::from_str(text).map_err(|e| {
            CniError::new(
                code::DECODE,
                format!("the network configuration is not JSON: {e}"),
            )
        })?;
        let version = raw["cniVersion"].as_str().unwrap_or("1.0.0").to_string();
        if !result::SUPPORTED.contains(&version.as_str()) {
            return Err(CniError::new(
                code::INCOMPATIBLE_VERSION,
                format!("cniVersion {version} is not supported"),
            )
            .details(format!("plumb supports {}", result::SUPPORTED.join(", "))));
        }
        Ok(Conf {
            version,
            name: raw["name"].as_str().unwrap_or_default().to_string(),
            raw,
        })
    }

    fn require_name(&self) -> CniResult<()> {
        if self.name.is_empty() {
            return Err(CniError::new(
                code::INVALID_CONFIG,
                "the network configuration has no \"name\"",
            ));
        }
        Ok(())
    }

    /// The script (an absolute path) and its text.
    fn script(&self) -> CniResult<(String, String)> {
        let path = self.raw["script"].as_str().ok_or_else(|| {
            CniError::new(
                code::INVALID_CONFIG,
                "the network configuration has no \"script\" (the absolute path of a plumb script)",
            )
        })?;
        if !Path::new(path).is_absolute() {
            return Err(CniError::new(
                code::INVALID_CONFIG,
                format!("\"script\": '{path}' is not an absolute path (runtimes start plugins in any directory)"),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            CniError::new(
                code::INVALID_CONFIG,
                format!("\"script\": cannot read {path}: {e}"),
            )
        })?;
        Ok((path.to_string(), text))
    }

    /// `params` (the script's --set values), as text.
    fn params(&self) -> BTreeMap<String, String> {
        self.raw["params"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect()
    }

    /// The run key of an attachment.
    fn key(&self, container_id: &str, ifname: &str) -> String {
        format!("cni:{}:{container_id}:{ifname}", self.name)
    }
}

/// Run as a CNI plugin: read the call, answer it, exit.
pub fn main() -> ExitCode {
    let env = Env::read();
    let mut stdin = String::new();
    let _ = std::io::stdin().read_to_string(&mut stdin);
    let version = serde_json::from_str::<Value>(&stdin)
        .ok()
        .and_then(|v| v["cniVersion"].as_str().map(str::to_string))
        .unwrap_or_else(|| "1.0.0".into());
    let answer = handle(&env, &stdin);
    let mut out = std::io::stdout().lock();
    match answer {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(v)) => {
            let _ = writeln!(out, "{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(out, "{}", e.json(&version));
            let _ = writeln!(
                std::io::stderr(),
                "plumb (CNI {}): {} {}",
                env.command,
                e.msg,
                e.details
            );
            ExitCode::from(1)
        }
    }
}

fn handle(env: &Env, stdin: &str) -> CniResult<Option<Value>> {
    if env.command == "VERSION" {
        let asked = serde_json::from_str::<Value>(stdin)
            .ok()
            .and_then(|v| v["cniVersion"].as_str().map(str::to_string))
            .unwrap_or_else(|| "1.1.0".into());
        return Ok(Some(
            json!({ "cniVersion": asked, "supportedVersions": result::SUPPORTED }),
        ));
    }
    let conf = Conf::parse(stdin)?;
    // The state directory comes with the config: a DEL may come from a
    // process with next to no environment (podman's cleanup).
    if let Some(dir) = conf.raw["stateDir"].as_str() {
        // SAFETY: set before any other thread exists (the plugin is one call).
        std::env::set_var("PLUMB_STATE_DIR", dir);
    }
    match env.command.as_str() {
        "ADD" => add(env, &conf).map(Some),
        "DEL" => del(env, &conf).map(|()| None),
        "CHECK" => check(env, &conf).map(|()| None),
        "STATUS" => status(&conf).map(|()| None),
        "GC" => gc(&conf).map(|()| None),
        other => Err(CniError::new(
            code::INVALID_ENV,
            format!("unknown CNI_COMMAND '{other}' (plumb answers ADD, DEL, CHECK, STATUS, GC, VERSION)"),
        )),
    }
}

/// The live runs of an attachment.
fn runs_of(key: &str) -> CniResult<Vec<Journal>> {
    let needle = format!(r#""key":{}"#, json!(key));
    let mut runs = Vec::new();
    for id in Journal::mentioning(needle.as_bytes())? {
        if let Ok(j) = Journal::load(&id) {
            if j.key.as_deref() == Some(key) && j.status() != Status::RolledBack {
                runs.push(j);
            }
        }
    }
    Ok(runs)
}

/// The host-side name of the container's interface: short, and the same
/// for the same attachment (`plmb` + 8 hex digits).
fn host_ifname(key: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("plmb{h:08x}")
}

/// JSON as a Rhai value (maps, arrays, strings, numbers).
fn dynamic(v: &Value) -> Dynamic {
    rhai::serde::to_dynamic(v).unwrap_or(Dynamic::UNIT)
}

/// The `cni` value scripts read.
fn cni_value(env: &Env, conf: &Conf, key: &str) -> Map {
    let netns = NsRef::Path(env.netns.clone().into());
    let runtime = &conf.raw["runtimeConfig"];
    let mut m = Map::new();
    m.insert("command".into(), env.command.clone().into());
    m.insert("container_id".into(), env.container_id.clone().into());
    m.insert("netns".into(), Dynamic::from(Netns(netns)));
    m.insert("netns_path".into(), env.netns.clone().into());
    m.insert("ifname".into(), env.ifname.clone().into());
    m.insert("host_ifname".into(), host_ifname(key).into());
    m.insert("network".into(), conf.name.clone().into());
    m.insert(
        "args".into(),
        Dynamic::from_map(
            env.args()
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ),
    );
    m.insert("config".into(), dynamic(&conf.raw));
    m.insert(
        "runtime_config".into(),
        if runtime.is_object() {
            dynamic(runtime)
        } else {
            Dynamic::from_map(Map::new())
        },
    );
    m.insert(
        "port_mappings".into(),
        match &runtime["portMappings"] {
            Value::Array(a) => dynamic(&Value::Array(a.clone())),
            _ => Dynamic::from_array(Vec::new()),
        },
    );
    m.insert(
        "prev_result".into(),
        match &conf.raw["prevResult"] {
            Value::Null => Dynamic::UNIT,
            v => dynamic(v),
        },
    );
    m
}

fn add(env: &Env, conf: &Conf) -> CniResult<Value> {
    env.require(&["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"])?;
    conf.require_name()?;
    if !Path::new(&env.netns).exists() {
        return Err(CniError::new(
            code::INVALID_ENV,
            format!("CNI_NETNS {} does not exist", env.netns),
        ));
    }
    // A second ADD of the same attachment fails on its host-side name,
    // which the key fixes, and says which run holds it.
    let key = conf.key(&env.container_id, &env.ifname);
    let (file, source) = conf.script()?;
    let params = conf.params();
    let journal = Journal::create(&file, params.clone(), Some(key.clone()))?;
    let mut session = Session::new(Kernel::new()?, journal);
    // stdout is the runtime's: what the script prints goes to stderr.
    session.set_output(Box::new(std::io::stderr()));
    let explicit: Rc<RefCell<serde_json::Map<String, Value>>> = Rc::default();
    let set = explicit.clone();
    let cni = cni_value(env, conf, &key);
    let Evaluated {
        mut session,
        result,
    } = evaluate(&file, &source, session, params, move |engine, _, scope| {
        scope.push_constant("cni", cni);
        engine.register_fn(
            "cni_result",
            move |fields: Map| -> Result<(), Box<rhai::EvalAltResult>> {
                let v: Value = rhai::serde::from_dynamic(&Dynamic::from_map(fields))?;
                if let Value::Object(o) = v {
                    set.borrow_mut().extend(o);
                }
                Ok(())
            },
        );
    });
    if let Err((e, _)) = result {
        let details = match (e.position.line(), e.position.position()) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", e.file),
            (Some(l), None) => format!("{}:{l}", e.file),
            _ => e.file.clone(),
        };
        let _ = writeln!(std::io::stderr(), "{e}");
        undo_failed(&mut session)?;
        // The runtime keeps no record of a failed ADD; neither does plumb
        // once nothing of it is left.
        if let Some(j) = session
            .journal()
            .filter(|j| j.status() == Status::RolledBack)
        {
            j.discard()?;
        }
        return Err(CniError::new(code::SCRIPT, e.message).details(details));
    }
    session.finish(false)?;
    let ns = NsRef::Path(env.netns.clone().into());
    let inspect = session.inspect();
    let derived = result::derive(
        &env.netns,
        &env.ifname,
        &inspect.links(&ns)?,
        &inspect.addrs(&ns)?,
        &inspect.routes(&ns)?,
    );
    let explicit = explicit.borrow();
    Ok(derived.to_json(&conf.version, &explicit))
}

/// Roll a run of an attachment back; its journal goes when nothing is left.
fn roll_back(journal: &mut Journal, kernel: &Kernel) -> CniResult<()> {
    match undo::rollback(journal, kernel, true, UndoOptions::default()) {
        Ok(_) => {
            if journal.status() == Status::RolledBack {
                journal.discard()?;
            }
            Ok(())
        }
        Err(e) => Err(CniError::new(code::IO, e.to_string())),
    }
}

fn del(env: &Env, conf: &Conf) -> CniResult<()> {
    env.require(&["CNI_CONTAINERID", "CNI_IFNAME"])?;
    let runs = runs_of(&conf.key(&env.container_id, &env.ifname))?;
    if runs.is_empty() {
        return Ok(()); // DEL twice, or after a failed ADD: nothing left
    }
    let kernel = Kernel::new()?;
    for mut journal in runs {
        roll_back(&mut journal, &kernel)?;
    }
    Ok(())
}

fn check(env: &Env, conf: &Conf) -> CniResult<()> {
    env.require(&["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"])?;
    let key = conf.key(&env.container_id, &env.ifname);
    let runs = runs_of(&key)?;
    let Some(journal) = runs.first() else {
        return Err(CniError::new(
            code::UNKNOWN_CONTAINER,
            format!("no live attachment {key}"),
        ));
    };
    let kernel = Kernel::new()?;
    let drift = check::drift_of(journal, &kernel)?;
    if drift.is_empty() {
        return Ok(());
    }
    Err(
        CniError::new(code::DRIFT, format!("run {} drifted", journal.run_id))
            .details(drift.join("; ")),
    )
}

fn status(conf: &Conf) -> CniResult<()> {
    let (file, source) = conf.script()?;
    rhai::Engine::new()
        .compile(&source)
        .map_err(|e| CniError::new(code::NOT_AVAILABLE, format!("{file} does not parse: {e}")))?;
    // A pool whose every address is leased cannot serve another ADD.
    if let Some(subnet) = conf.params().get("subnet") {
        let net: ipnet::IpNet = subnet.parse().map_err(|_| {
            CniError::new(
                code::INVALID_CONFIG,
                format!("params.subnet '{subnet}' is not a subnet"),
            )
        })?;
        let taken = plumb_journal::shared::leased(&net.trunc())?;
        if plumb_journal::shared::free_host(&net.trunc(), &taken).is_none() {
            return Err(CniError::new(
                code::NOT_AVAILABLE,
                format!("no free address left in {subnet} ({} leased)", taken.len()),
            ));
        }
    }
    Ok(())
}

fn gc(conf: &Conf) -> CniResult<()> {
    conf.require_name()?;
    let valid = conf.raw["cni.dev/valid-attachments"]
        .as_array()
        .or_else(|| conf.raw["cni.dev/attachments"].as_array())
        .cloned()
        .unwrap_or_default();
    let keep: Vec<String> = valid
        .iter()
        .filter_map(|a| Some(conf.key(a["containerID"].as_str()?, a["ifname"].as_str()?)))
        .collect();
    let prefix = format!("cni:{}:", conf.name);
    let kernel = Kernel::new()?;
    let mut failures = Vec::new();
    for mut journal in Journal::list()? {
        let stale = journal
            .key
            .as_deref()
            .is_some_and(|k| k.starts_with(&prefix) && !keep.iter().any(|v| v == k));
        if stale && journal.status().needs_rollback() {
            if let Err(e) = roll_back(&mut journal, &kernel) {
                failures.push(format!("{}: {}", journal.run_id, e.msg));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(
            CniError::new(code::IO, "some stale attachments could not be removed")
                .details(failures.join("; ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_checked_and_keys_name_the_attachment() {
        let conf = Conf::parse(r#"{"cniVersion":"1.0.0","name":"net1","type":"plumb","params":{"subnet":"10.66.0.0/24","mtu":1400}}"#).unwrap();
        assert_eq!(conf.key("abc", "eth0"), "cni:net1:abc:eth0");
        assert_eq!(conf.params()["mtu"], "1400");
        assert_eq!(conf.script().unwrap_err().code, code::INVALID_CONFIG);
        let old = Conf::parse(r#"{"cniVersion":"0.2.0","name":"n"}"#);
        assert_eq!(old.err().unwrap().code, code::INCOMPATIBLE_VERSION);
        assert_eq!(Conf::parse("nope").err().unwrap().code, code::DECODE);
    }

    #[test]
    fn missing_environment_is_named() {
        let env = Env {
            command: "ADD".into(),
            container_id: "c1".into(),
            netns: String::new(),
            ifname: String::new(),
            args: "IgnoreUnknown=1;K8S_POD_NAME=web".into(),
        };
        let e = env
            .require(&["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"])
            .unwrap_err();
        assert_eq!(e.code, code::INVALID_ENV);
        assert!(e.msg.contains("CNI_NETNS, CNI_IFNAME"), "{}", e.msg);
        assert_eq!(env.args()["K8S_POD_NAME"], "web");
        let bad = Env {
            container_id: "-x".into(),
            ..env
        };
        assert!(bad.require(&[]).is_err());
    }

    #[test]
    fn host_names_are_short_and_stable() {
        let a = host_ifname("cni:n:c1:eth0");
        assert_eq!(a, host_ifname("cni:n:c1:eth0"));
        assert_ne!(a, host_ifname("cni:n:c2:eth0"));
        assert!(a.len() <= 15);
    }
}
