//! Between Rhai values and plumb's: the handles scripts hold (namespaces,
//! links), option maps that reject keys they do not know, and errors turned
//! into script errors.

use rhai::{Array, Dynamic, EvalAltResult, ImmutableString, Map, Position};

use plumb_journal::Failure;
use plumb_kernel::NsRef;

pub type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// A script error; Rhai adds the call's position.
pub fn script_error(e: impl std::fmt::Display) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(e.to_string()), Position::NONE).into()
}

pub fn fail<T>(message: impl Into<String>) -> RhaiResult<T> {
    Err(script_error(message.into()))
}

/// Errors of the layers below, as script errors.
pub trait OrScript<T> {
    fn or_script(self) -> RhaiResult<T>;
}

impl<T> OrScript<T> for Result<T, plumb_kernel::Error> {
    fn or_script(self) -> RhaiResult<T> {
        self.map_err(script_error)
    }
}

impl<T> OrScript<T> for Result<T, plumb_journal::Error> {
    fn or_script(self) -> RhaiResult<T> {
        self.map_err(script_error)
    }
}

impl<T> OrScript<T> for Result<T, crate::error::Error> {
    fn or_script(self) -> RhaiResult<T> {
        self.map_err(script_error)
    }
}

/// A failed change is reported where the script asked for it: for a rule
/// refused when its batch was applied later, that is the rule's own line.
impl<T> OrScript<T> for Result<T, Failure> {
    fn or_script(self) -> RhaiResult<T> {
        self.map_err(|f| {
            let position = match &f.origin {
                Some(o) => Position::new(o.line as u16, o.column as u16),
                None => Position::NONE,
            };
            let message = match &f.origin {
                Some(o) => format!("{} (asked for at {})", f.error, o.at()),
                None => f.error.to_string(),
            };
            EvalAltResult::ErrorRuntime(Dynamic::from(message), position).into()
        })
    }
}

/// A plan's refusal, named after the function that made the plan.
pub fn planned<T>(func: &str, plan: crate::plan::Plan<T>) -> RhaiResult<T> {
    plan.map_err(|why| script_error(format!("{func}(): {why}")))
}

/// A network namespace, as scripts see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Netns(pub NsRef);

impl Netns {
    pub fn name(&self) -> String {
        self.0.short_name()
    }
}

/// A network interface in a namespace; a veth's `peer` is its other end.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub ns: NsRef,
    pub name: String,
    pub peer: Option<Box<Link>>,
    /// Shared by the live runs that use it: what is added to it is shared too.
    pub shared: bool,
}

impl Link {
    pub fn new(ns: NsRef, name: impl Into<String>) -> Self {
        Link {
            ns,
            name: name.into(),
            peer: None,
            shared: false,
        }
    }

    /// `veth0`, or `eth0 in netns0` outside the host.
    pub fn describe(&self) -> String {
        match &self.ns {
            NsRef::Host => self.name.clone(),
            ns => format!("{} in {}", self.name, ns.short_name()),
        }
    }

    /// Refuse, in `func`'s name, a pair of links in different namespaces.
    pub fn same_namespace_as(&self, other: &Link, func: &str) -> RhaiResult<()> {
        if self.ns != other.ns {
            return fail(format!(
                "{func}(): {} and {} are in different namespaces",
                self.describe(),
                other.describe()
            ));
        }
        Ok(())
    }
}

/// An option map passed to an API function (`#{ peer: "ceth0", netns: ns0 }`).
pub struct Opts {
    func: &'static str,
    map: Map,
}

impl Opts {
    /// Check that every key is one `func` knows.
    pub fn new(func: &'static str, map: Map, allowed: &[&str]) -> RhaiResult<Opts> {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                return fail(format!(
                    "{func}(): unknown option '{key}'; expected one of: {}",
                    allowed.join(", ")
                ));
            }
        }
        Ok(Opts { func, map })
    }

    pub fn empty(func: &'static str) -> Opts {
        Opts {
            func,
            map: Map::new(),
        }
    }

    fn get(&self, key: &str) -> Option<&Dynamic> {
        self.map.get(key).filter(|v| !v.is_unit())
    }

    fn wrong(&self, key: &str, expected: &str, got: &Dynamic) -> Box<EvalAltResult> {
        script_error(format!(
            "{}(): option '{key}' must be {expected}, not {} ({})",
            self.func,
            got.type_name(),
            plumb_kernel::error::cut(&got.to_string())
        ))
    }

    pub fn string(&self, key: &str) -> RhaiResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.clone().into_immutable_string() {
                Ok(s) => Ok(Some(s.to_string())),
                Err(_) => Err(self.wrong(key, "a string", v)),
            },
        }
    }

    pub fn required_string(&self, key: &str) -> RhaiResult<String> {
        self.string(key)?
            .ok_or_else(|| script_error(format!("{}(): option '{key}' is required", self.func)))
    }

    pub fn int(&self, key: &str) -> RhaiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_int()
                .map(Some)
                .map_err(|_| self.wrong(key, "an integer", v)),
        }
    }

    /// An integer within `lo..=hi` (ports, MTUs, VNIs).
    pub fn int_in(&self, key: &str, lo: i64, hi: i64) -> RhaiResult<Option<i64>> {
        match self.int(key)? {
            Some(n) if n < lo || n > hi => fail(format!(
                "{}(): option '{key}' is {n}; it must be between {lo} and {hi}",
                self.func
            )),
            other => Ok(other),
        }
    }

    pub fn bool(&self, key: &str) -> RhaiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .map_err(|_| self.wrong(key, "true or false", v)),
        }
    }

    /// An IP address given as a string.
    pub fn ip(&self, key: &str) -> RhaiResult<Option<std::net::IpAddr>> {
        self.string(key)?
            .map(|s| {
                s.parse().map_err(|_| {
                    script_error(format!(
                        "{}(): option '{key}': '{}' is not an IP address",
                        self.func,
                        plumb_kernel::error::cut(&s)
                    ))
                })
            })
            .transpose()
    }

    /// Seconds, as an integer or a float.
    pub fn seconds(&self, key: &str) -> RhaiResult<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => {
                let secs = v
                    .as_float()
                    .or_else(|_| v.as_int().map(|i| i as f64))
                    .map_err(|_| self.wrong(key, "a number of seconds", v))?;
                if secs.is_finite() && secs > 0.0 {
                    Ok(Some(secs))
                } else {
                    fail(format!(
                        "{}(): option '{key}' must be a positive number of seconds",
                        self.func
                    ))
                }
            }
        }
    }

    pub fn netns(&self, key: &str) -> RhaiResult<Option<NsRef>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.clone().try_cast::<Netns>() {
                Some(ns) => Ok(Some(ns.0)),
                None => {
                    Err(self.wrong(key, "a namespace (from netns(), host() or netns_pid())", v))
                }
            },
        }
    }

    /// A link given as a handle or by name; a handle must live in `ns`.
    pub fn link_name(&self, key: &str, ns: &NsRef) -> RhaiResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => {
                if let Some(link) = v.clone().try_cast::<Link>() {
                    if &link.ns != ns {
                        return fail(format!(
                            "{}(): option '{key}': link {} is not in {ns}",
                            self.func,
                            link.describe()
                        ));
                    }
                    return Ok(Some(link.name));
                }
                match v.clone().try_cast::<ImmutableString>() {
                    Some(s) => Ok(Some(s.to_string())),
                    None => Err(self.wrong(key, "a link or a link name", v)),
                }
            }
        }
    }
}

/// Words of a command (`["ping", "-c1", ip]`): strings, or numbers written as text.
pub fn strings(argv: Array, func: &str) -> RhaiResult<Vec<String>> {
    if argv.is_empty() {
        return fail(format!(
            "{func}(): the command is empty; give [program, args...]"
        ));
    }
    argv.into_iter()
        .map(|v| {
            v.clone()
                .into_immutable_string()
                .map(|s| s.to_string())
                .or_else(|_| {
                    if v.is_int() || v.is_float() {
                        Ok(v.to_string())
                    } else {
                        Err(script_error(format!(
                            "{func}(): every word of the command must be a string, not {}",
                            v.type_name()
                        )))
                    }
                })
        })
        .collect()
}

pub fn to_dynamic<T: serde::Serialize>(value: &T) -> RhaiResult<Dynamic> {
    rhai::serde::to_dynamic(value)
}
