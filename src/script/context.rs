//! What every registered function shares: the run's session, its `--set`
//! parameters, and the script sources (to say where a change was asked for).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use rhai::NativeCallContext;

use super::convert::{OrScript, RhaiResult};
use plumb_journal::{Op, Origin, Session};
use plumb_kernel::{programs, Inspect};

/// `--set key=value` parameters, and which of them the script read. A script
/// started with run_script() sees only the parameters it was given.
#[derive(Default)]
pub struct Params {
    values: BTreeMap<String, String>,
    used: BTreeSet<String>,
    nested: Vec<BTreeMap<String, String>>,
}

impl Params {
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Params {
            values,
            ..Default::default()
        }
    }

    pub fn take(&mut self, name: &str) -> Option<String> {
        if let Some(inner) = self.nested.last() {
            return inner.get(name).cloned();
        }
        self.used.insert(name.to_string());
        self.values.get(name).cloned()
    }

    /// Run `f` with `values` as the only parameters (run_script()).
    pub fn nest(&mut self, values: BTreeMap<String, String>) {
        self.nested.push(values);
    }

    pub fn unnest(&mut self) {
        self.nested.pop();
    }

    /// Parameters given on the command line that the script never asked for (likely typos).
    pub fn unused(&self) -> Vec<String> {
        self.values
            .keys()
            .filter(|k| !self.used.contains(*k))
            .cloned()
            .collect()
    }
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

/// The shared context of the API's functions.
#[derive(Clone)]
pub struct Api {
    pub session: Rc<RefCell<Session>>,
    pub params: Rc<RefCell<Params>>,
    /// Script texts by source name, to quote the line a change came from.
    sources: Rc<RefCell<HashMap<String, Rc<Vec<String>>>>>,
}

impl Api {
    pub fn new(session: Rc<RefCell<Session>>, params: Params) -> Api {
        Api {
            session,
            params: Rc::new(RefCell::new(params)),
            sources: Rc::default(),
        }
    }

    /// Remember a script's text under its source name.
    pub fn add_source(&self, name: &str, text: &str) {
        self.sources.borrow_mut().insert(
            name.to_string(),
            Rc::new(text.lines().map(str::to_string).collect()),
        );
    }

    /// Where the call being made sits in its script.
    pub fn origin(&self, ctx: &NativeCallContext) -> Option<Origin> {
        let pos = ctx.call_position();
        let file = ctx.call_source()?.to_string();
        let line = pos.line()?;
        let text = self
            .sources
            .borrow()
            .get(&file)
            .and_then(|lines| lines.get(line - 1).cloned())
            .unwrap_or_default();
        Some(Origin {
            file,
            line,
            column: pos.position().unwrap_or(1),
            text,
        })
    }

    /// Journal and make one change, asked for at `ctx`.
    pub fn apply(&self, ctx: &NativeCallContext, op: Op) -> RhaiResult<()> {
        self.apply_all(ctx, vec![op])
    }

    pub fn apply_all(&self, ctx: &NativeCallContext, ops: Vec<Op>) -> RhaiResult<()> {
        let mut session = self.session.borrow_mut();
        session.set_origin(self.origin(ctx));
        // Firewall batches reach iptables only when the run ends: a missing
        // iptables is reported here, where the script asked for the rule.
        for op in &ops {
            if let (Op::Firewall { batch, .. }, false) = (op, session.is_dry_run()) {
                let needed_for = format!("{}()", ctx.fn_name());
                programs::require(programs::firewall(batch.v6), &needed_for).or_script()?;
            }
        }
        for op in ops {
            session.apply(op).or_script()?;
        }
        Ok(())
    }

    /// Ask the network a question (in a dry run, its stand-in answers).
    pub fn inspect<T>(
        &self,
        f: impl FnOnce(&dyn Inspect) -> plumb_kernel::Result<T>,
    ) -> RhaiResult<T> {
        f(self.session.borrow().inspect()).or_script()
    }

    pub fn dry_run(&self) -> bool {
        self.session.borrow().is_dry_run()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.params.borrow_mut().take(name)
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
    fn nested_parameters_hide_the_command_line_ones() {
        let mut p = Params::new(BTreeMap::from([("a".into(), "1".into())]));
        p.nest(BTreeMap::from([("b".into(), "2".into())]));
        assert_eq!(p.take("a"), None);
        assert_eq!(p.take("b").as_deref(), Some("2"));
        p.unnest();
        assert_eq!(p.unused(), vec!["a".to_string()]);
        assert_eq!(p.take("a").as_deref(), Some("1"));
        assert!(p.unused().is_empty());
    }
}
