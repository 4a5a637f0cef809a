//! Firewall rules through the real iptables binaries (nf_tables variant here).
//! plumb's rules live in its own chains, jumped to from the built-in ones, and
//! each carries a comment naming its run, so `iptables -S` shows who owns what.
//! A batch is applied with one `iptables-restore --noflush` (1000 rules cost
//! about as much as a few single `iptables` calls) and undone as a unit.

use serde::{Deserialize, Serialize};

use super::netns::{in_netns, NsRef};
use super::process;
use crate::error::{Error, Result};

/// plumb's chains, each jumped to from a built-in chain (table, built-in, chain, jump matches).
const CHAINS: &[(&str, &str, &str, &str)] = &[
    ("nat", "POSTROUTING", "PLUMB-POSTROUTING", ""),
    // Published ports: traffic to the host's own addresses, from outside and from the host itself.
    (
        "nat",
        "PREROUTING",
        "PLUMB-DNAT",
        "-m addrtype --dst-type LOCAL",
    ),
    (
        "nat",
        "OUTPUT",
        "PLUMB-DNAT",
        "! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL",
    ),
    ("filter", "FORWARD", "PLUMB-FORWARD", ""),
];

/// One rule: `matches` come before the ownership comment, `target` after it
/// (target options such as --to-destination must follow -j).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub table: String,
    pub chain: String,
    pub matches: Vec<String>,
    pub target: Vec<String>,
    /// Insert at the top of the chain (isolation drops before accepts).
    #[serde(default)]
    pub first: bool,
}

impl Rule {
    pub fn new(table: &str, chain: &str, matches: &[&str], target: &[&str]) -> Rule {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        Rule {
            table: table.into(),
            chain: chain.into(),
            matches: words(matches),
            target: words(target),
            first: false,
        }
    }

    pub fn at_top(mut self) -> Rule {
        self.first = true;
        self
    }

    /// The rule's words after `-A CHAIN`, with the ownership comment.
    fn spec(&self, comment: &str) -> Vec<String> {
        let mut words = self.matches.clone();
        words.extend(["-m", "comment", "--comment"].map(String::from));
        words.push(comment.into());
        words.extend(self.target.iter().cloned());
        words
    }

    fn line(&self, verb: &str, comment: &str) -> String {
        let position = if verb == "-I" { " 1" } else { "" };
        format!(
            "{verb} {}{position} {}",
            self.chain,
            crate::journal::shell_join(&self.spec(comment))
        )
    }
}

/// Rules applied together in one namespace, for one IP family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub ns: NsRef,
    pub v6: bool,
    /// The ownership comment: `plumb:RUN`.
    pub comment: String,
    pub rules: Vec<Rule>,
}

/// `iptables-restore` input: the (table, line) pairs grouped by table, each
/// table's lines in their given order.
fn restore_text(lines: &[(&str, String)]) -> String {
    let mut tables: Vec<&str> = lines.iter().map(|(t, _)| *t).collect();
    tables.sort();
    tables.dedup();
    let mut text = String::new();
    for table in tables {
        text += &format!("*{table}\n");
        for (_, line) in lines.iter().filter(|(t, _)| *t == table) {
            text += line;
            text += "\n";
        }
        text += "COMMIT\n";
    }
    text
}

fn fw_error(context: String, e: impl std::fmt::Display) -> Error {
    Error::Firewall(format!("{context}: {e}"))
}

impl Batch {
    fn command(&self) -> &'static str {
        if self.v6 {
            "ip6tables"
        } else {
            "iptables"
        }
    }

    /// What --dry-run prints: the chain set-up (guarded, so it can repeat)
    /// and one `iptables` command per rule, as a reader of the tutorials would type them.
    pub fn shell(&self) -> Vec<String> {
        let mut lines = self.setup_shell();
        lines.extend(self.rules_shell());
        lines
    }

    /// Guarded commands that create plumb's chains this batch uses and jump to them.
    pub fn setup_shell(&self) -> Vec<String> {
        let cmd = format!("{}{}", self.ns.exec_prefix(), self.command());
        let mut lines = Vec::new();
        for (table, builtin, chain, jump) in CHAINS {
            if !self
                .rules
                .iter()
                .any(|r| r.table == *table && r.chain == *chain)
            {
                continue;
            }
            let new_chain = format!("{cmd} -t {table} -N {chain} 2>/dev/null || true");
            if !lines.contains(&new_chain) {
                lines.push(new_chain);
            }
            let jump = if jump.is_empty() {
                String::new()
            } else {
                format!("{jump} ")
            };
            lines.push(format!(
                "{cmd} -t {table} -C {builtin} {jump}-j {chain} 2>/dev/null || {cmd} -t {table} -I {builtin} 1 {jump}-j {chain}"
            ));
        }
        lines
    }

    fn rules_shell(&self) -> Vec<String> {
        let cmd = format!("{}{}", self.ns.exec_prefix(), self.command());
        self.rules
            .iter()
            .map(|r| {
                let verb = if r.first { "-I" } else { "-A" };
                format!("{cmd} -t {} {}", r.table, r.line(verb, &self.comment))
            })
            .collect()
    }

    /// The input for one `iptables-restore`: per table, first `setup` lines
    /// (chains to declare, jumps to insert), then each rule with its verb.
    fn restore_input(
        &self,
        setup: &[(&str, String)],
        verb_for: impl Fn(&Rule) -> &'static str,
    ) -> String {
        let mut lines = setup.to_vec();
        lines.extend(
            self.rules
                .iter()
                .map(|r| (r.table.as_str(), r.line(verb_for(r), &self.comment))),
        );
        restore_text(&lines)
    }

    fn restore(&self, input: &str) -> Result<process::ExecOutput> {
        let argv = vec![
            format!("{}-restore", self.command()),
            "--noflush".into(),
            "--wait".into(),
        ];
        process::exec_with_input(&self.ns, &argv, input)
    }

    /// The namespace's rules as `iptables-save` prints them (one process).
    fn saved(&self) -> Result<Saved> {
        let argv = vec![format!("{}-save", self.command())];
        let out = process::exec_in(&self.ns, &argv, Some(std::time::Duration::from_secs(30)))?;
        if out.code != 0 {
            return Err(Error::Firewall(format!(
                "{}-save failed: {}",
                self.command(),
                out.stderr.trim()
            )));
        }
        Ok(Saved::parse(&out.stdout))
    }

    /// plumb's chains this batch uses, as (table, built-in, chain, jump matches).
    fn chains(
        &self,
    ) -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str, &'static str)> + '_
    {
        CHAINS.iter().filter(|(table, _, chain, _)| {
            self.rules
                .iter()
                .any(|r| r.table == *table && r.chain == *chain)
        })
    }

    /// Lines that create the chains this batch needs and are missing, and the
    /// jumps to them that are missing.
    fn setup_lines(&self, saved: &Saved) -> Vec<(&'static str, String)> {
        let mut lines = Vec::new();
        for (table, builtin, chain, jump) in self.chains() {
            let declare = (*table, format!(":{chain} - [0:0]"));
            if !saved.has_chain(table, chain) && !lines.contains(&declare) {
                lines.push(declare);
            }
            if saved.jump(table, builtin, chain).is_none() {
                let jump = if jump.is_empty() {
                    String::new()
                } else {
                    format!("{jump} ")
                };
                lines.push((*table, format!("-I {builtin} 1 {jump}-j {chain}")));
            }
        }
        lines
    }

    /// Set up plumb's chains and add the rules in one atomic restore: if the
    /// kernel refuses any line, nothing changes.
    pub fn apply(&self) -> Result<()> {
        let setup = self.setup_lines(&self.saved()?);
        let input = self.restore_input(&setup, |r| if r.first { "-I" } else { "-A" });
        let out = self.restore(&input)?;
        if out.code != 0 {
            return Err(Error::Firewall(self.explain_failure(&input, &out.stderr)));
        }
        Ok(())
    }

    /// iptables-restore names the failing line; name the rule instead.
    fn explain_failure(&self, input: &str, stderr: &str) -> String {
        let line_no = stderr
            .split("line ")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok());
        match line_no.and_then(|n| input.lines().nth(n.checked_sub(1)?)) {
            Some(line) => format!("{} rejected `{line}`: {}", self.command(), stderr.trim()),
            None => format!("{}-restore failed: {}", self.command(), stderr.trim()),
        }
    }

    /// Delete this batch's rules (one restore; rule by rule if some are gone
    /// already), then remove plumb's chains no run uses any more.
    pub fn undo(&self) -> Result<()> {
        let out = self.restore(&self.restore_input(&[], |_| "-D"))?;
        if out.code != 0 {
            let (v6, comment, rules) = (self.v6, &self.comment, &self.rules);
            in_netns(&self.ns, move || {
                let ipt = iptables::new(v6).map_err(|e| fw_error("run iptables".into(), e))?;
                for r in rules {
                    let spec = crate::journal::shell_join(&r.spec(comment));
                    let ctx = || format!("delete `{}`", r.line("-D", comment));
                    if ipt
                        .exists(&r.table, &r.chain, &spec)
                        .map_err(|e| fw_error(ctx(), e))?
                    {
                        ipt.delete(&r.table, &r.chain, &spec)
                            .map_err(|e| fw_error(ctx(), e))?;
                    }
                }
                Ok(())
            })?;
        }
        self.remove_unused_chains()
    }

    /// Remove plumb's chains this batch used once no rule of any run is left
    /// in them: their jumps, then the chains (one save, one restore).
    fn remove_unused_chains(&self) -> Result<()> {
        let saved = self.saved()?;
        let mut lines: Vec<(&str, String)> = Vec::new();
        for (table, builtin, chain, _) in self.chains() {
            if !saved.has_chain(table, chain) || saved.rule_count(table, chain) > 0 {
                continue;
            }
            if let Some(jump) = saved.jump(table, builtin, chain) {
                lines.push((*table, format!("-D {}", jump.trim_start_matches("-A "))));
            }
            let remove = (*table, format!("-X {chain}"));
            if !lines.contains(&remove) {
                lines.push(remove);
            }
        }
        // Chains go after every jump to them (PLUMB-DNAT has two).
        lines.sort_by_key(|(_, line)| line.starts_with("-X"));
        if lines.is_empty() {
            return Ok(());
        }
        let input = restore_text(&lines);
        let out = self.restore(&input)?;
        if out.code != 0 {
            return Err(Error::Firewall(format!(
                "remove plumb's empty chains: {}",
                self.explain_failure(&input, &out.stderr)
            )));
        }
        Ok(())
    }
}

/// What `iptables-save` printed, by table: declared chains and rule lines.
struct Saved {
    tables: Vec<(String, Vec<String>)>,
}

impl Saved {
    fn parse(text: &str) -> Saved {
        let mut tables: Vec<(String, Vec<String>)> = Vec::new();
        for line in text.lines() {
            if let Some(name) = line.strip_prefix('*') {
                tables.push((name.to_string(), Vec::new()));
            } else if let Some((_, lines)) = tables.last_mut() {
                if line.starts_with(':') || line.starts_with("-A ") {
                    lines.push(line.to_string());
                }
            }
        }
        Saved { tables }
    }

    fn lines<'a>(&'a self, table: &str) -> impl Iterator<Item = &'a str> + 'a {
        let table = table.to_string();
        self.tables
            .iter()
            .filter(move |(t, _)| *t == table)
            .flat_map(|(_, lines)| lines.iter().map(String::as_str))
    }

    fn has_chain(&self, table: &str, chain: &str) -> bool {
        let declared = format!(":{chain} ");
        self.lines(table).any(|l| l.starts_with(&declared))
    }

    fn rule_count(&self, table: &str, chain: &str) -> usize {
        let prefix = format!("-A {chain} ");
        self.lines(table).filter(|l| l.starts_with(&prefix)).count()
    }

    /// The rule in `builtin` that jumps to `chain` (only plumb jumps to its chains).
    fn jump(&self, table: &str, builtin: &str, chain: &str) -> Option<&str> {
        let prefix = format!("-A {builtin} ");
        let target = format!("-j {chain}");
        self.lines(table)
            .find(|l| l.starts_with(&prefix) && l.ends_with(&target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Batch {
        Batch {
            ns: NsRef::Host,
            v6: false,
            comment: "plumb:run1".into(),
            rules: vec![
                Rule::new(
                    "nat",
                    "PLUMB-POSTROUTING",
                    &["-s", "172.18.0.0/16", "!", "-o", "br0"],
                    &["-j", "MASQUERADE"],
                ),
                Rule::new(
                    "filter",
                    "PLUMB-FORWARD",
                    &["-i", "br0", "-o", "br1"],
                    &["-j", "DROP"],
                )
                .at_top(),
            ],
        }
    }

    #[test]
    fn restore_input_groups_rules_by_table_with_comments() {
        let text = batch().restore_input(&[], |r| if r.first { "-I" } else { "-A" });
        assert_eq!(
            text,
            "*filter\n-I PLUMB-FORWARD 1 -i br0 -o br1 -m comment --comment plumb:run1 -j DROP\nCOMMIT\n\
             *nat\n-A PLUMB-POSTROUTING -s 172.18.0.0/16 ! -o br0 -m comment --comment plumb:run1 -j MASQUERADE\nCOMMIT\n"
        );
    }

    #[test]
    fn dry_run_text_sets_up_each_chain_then_prints_each_rule() {
        let lines = batch().shell();
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert_eq!(
            lines[0],
            "iptables -t nat -N PLUMB-POSTROUTING 2>/dev/null || true"
        );
        assert!(lines[1].contains("-C POSTROUTING -j PLUMB-POSTROUTING 2>/dev/null ||"));
        assert!(lines[4].starts_with("iptables -t nat -A PLUMB-POSTROUTING -s 172.18.0.0/16"));
        assert!(lines[5].starts_with("iptables -t filter -I PLUMB-FORWARD 1 -i br0"));
    }

    #[test]
    fn dry_run_text_for_a_namespace_runs_every_command_inside_it() {
        let batch = Batch {
            ns: NsRef::Named("ns1".into()),
            ..batch()
        };
        for line in batch.shell() {
            // Both sides of `||` must run in the namespace, not only the first.
            for command in line.split(" || ") {
                assert!(
                    command.starts_with("ip netns exec ns1 ") || command == "true",
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn a_rejected_line_is_named() {
        let input = batch().restore_input(&[], |_| "-A");
        let msg = batch().explain_failure(&input, "iptables-restore: line 2 failed");
        assert!(msg.contains("rejected `-A PLUMB-FORWARD"), "{msg}");
    }

    const SAVED: &str = "# Generated by iptables-save\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:PLUMB-FORWARD - [0:0]\n-A FORWARD -j PLUMB-FORWARD\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:PLUMB-POSTROUTING - [0:0]\n-A PLUMB-POSTROUTING -s 10.0.0.0/8 -j MASQUERADE\nCOMMIT\n";

    #[test]
    fn setup_adds_only_missing_chains_and_jumps() {
        let saved = Saved::parse(SAVED);
        let lines = batch().setup_lines(&saved);
        // nat: the chain exists but nothing jumps to it; filter: both exist.
        assert_eq!(
            lines,
            vec![("nat", "-I POSTROUTING 1 -j PLUMB-POSTROUTING".to_string())]
        );
        let input = batch().restore_input(&lines, |_| "-A");
        assert!(input.starts_with("*filter\n-A PLUMB-FORWARD"), "{input}");
        assert!(
            input.contains("*nat\n-I POSTROUTING 1 -j PLUMB-POSTROUTING\n-A PLUMB-POSTROUTING"),
            "{input}"
        );
        let fresh = batch().setup_lines(&Saved::parse(""));
        assert_eq!(fresh.len(), 4, "{fresh:?}");
        assert_eq!(fresh[0], ("nat", ":PLUMB-POSTROUTING - [0:0]".to_string()));
    }

    #[test]
    fn saved_rules_are_counted_per_chain_and_jumps_found() {
        let saved = Saved::parse(SAVED);
        assert!(saved.has_chain("nat", "PLUMB-POSTROUTING"));
        assert!(!saved.has_chain("nat", "PLUMB-DNAT"));
        assert_eq!(saved.rule_count("nat", "PLUMB-POSTROUTING"), 1);
        assert_eq!(saved.rule_count("filter", "PLUMB-FORWARD"), 0);
        assert_eq!(
            saved.jump("filter", "FORWARD", "PLUMB-FORWARD"),
            Some("-A FORWARD -j PLUMB-FORWARD")
        );
        assert_eq!(saved.jump("nat", "POSTROUTING", "PLUMB-POSTROUTING"), None);
    }
}
