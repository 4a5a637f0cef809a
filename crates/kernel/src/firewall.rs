//! Firewall rules through the real iptables binaries (nf_tables variant here).
//! plumb's rules live in its own chains, jumped to from the built-in ones, and
//! each carries a comment naming its run and batch, so `iptables -S` shows who
//! owns what. A batch is applied with one `iptables-save` and one atomic
//! `iptables-restore --noflush` (1000 rules cost about as much as a few
//! single `iptables` calls), and removed the same way, in time linear in the
//! rules present. Callers serialise batches across processes (plumb-journal's
//! lock): chain set-up is check-then-act.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::process;
use crate::shell;
use crate::types::NsRef;

/// One of plumb's chains and the jump that leads to it from a built-in chain.
pub struct Chain {
    pub table: &'static str,
    pub builtin: &'static str,
    pub name: &'static str,
    /// Matches on the jump (only traffic for the host's own addresses is DNATed).
    pub jump_matches: &'static str,
}

pub const POSTROUTING: &str = "PLUMB-POSTROUTING";
pub const DNAT: &str = "PLUMB-DNAT";
pub const FORWARD: &str = "PLUMB-FORWARD";

/// plumb's chains. PLUMB-DNAT is jumped to twice: published ports are
/// reached from outside (PREROUTING) and from the host itself (OUTPUT, its
/// loopback addresses included: see plan::firewall::publish in plumb).
pub const CHAINS: &[Chain] = &[
    Chain {
        table: "nat",
        builtin: "POSTROUTING",
        name: POSTROUTING,
        jump_matches: "",
    },
    Chain {
        table: "nat",
        builtin: "PREROUTING",
        name: DNAT,
        jump_matches: "-m addrtype --dst-type LOCAL",
    },
    Chain {
        table: "nat",
        builtin: "OUTPUT",
        name: DNAT,
        jump_matches: "-m addrtype --dst-type LOCAL",
    },
    Chain {
        table: "filter",
        builtin: "FORWARD",
        name: FORWARD,
        jump_matches: "",
    },
];

/// The tables a rule may name.
pub const TABLES: &[&str] = &["filter", "nat", "mangle", "raw"];

fn is_plumb_chain(name: &str) -> bool {
    CHAINS.iter().any(|c| c.name == name)
}

impl Chain {
    fn jump_spec(&self) -> String {
        match self.jump_matches {
            "" => format!("-j {}", self.name),
            m => format!("{m} -j {}", self.name),
        }
    }
}

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

    /// `TABLE CHAIN MATCHES TARGET`: the rule without its ownership comment.
    pub fn words(&self) -> String {
        format!(
            "{} {} {} {}",
            self.table,
            self.chain,
            self.matches.join(" "),
            self.target.join(" ")
        )
    }

    /// The rule's words after `-A CHAIN`, with the ownership comment.
    fn spec(&self, comment: &str) -> Vec<String> {
        let mut words = self.matches.clone();
        words.extend(["-m", "comment", "--comment"].map(String::from));
        words.push(comment.into());
        words.extend(self.target.iter().cloned());
        words
    }

    fn verb(&self) -> &'static str {
        if self.first {
            "-I"
        } else {
            "-A"
        }
    }

    /// `-A CHAIN SPEC` (or `-I CHAIN 1 SPEC`), its words quoted by `quote`.
    fn line_quoted(&self, comment: &str, quote: fn(&str) -> String) -> String {
        let position = if self.first { " 1" } else { "" };
        let words: Vec<String> = self.spec(comment).iter().map(|w| quote(w)).collect();
        format!(
            "{} {}{position} {}",
            self.verb(),
            self.chain,
            words.join(" ")
        )
    }

    /// The rule as a shell reads it (after `iptables -t TABLE`).
    fn line(&self, comment: &str) -> String {
        self.line_quoted(comment, shell::quote)
    }

    /// The rule as iptables-restore reads it.
    fn restore_line(&self, comment: &str) -> String {
        self.line_quoted(comment, restore_quote)
    }
}

/// A word as iptables-restore reads it: it splits at blanks and knows only
/// double quotes (with `\"` and `\\` escaped inside), not a shell's single quotes.
fn restore_quote(word: &str) -> String {
    if !word.is_empty() && !word.contains(|c: char| c.is_whitespace() || c == '"') {
        return word.to_string();
    }
    format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Rules applied together in one namespace, for one IP family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub ns: NsRef,
    pub v6: bool,
    /// The ownership comment, unique to the batch: `plumb:RUN/SEQ`.
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

impl Batch {
    fn command(&self) -> &'static str {
        if self.v6 {
            "ip6tables"
        } else {
            "iptables"
        }
    }

    /// plumb's chains this batch uses (with each jump to them).
    fn chains(&self) -> impl Iterator<Item = &'static Chain> + '_ {
        CHAINS.iter().filter(|c| {
            self.rules
                .iter()
                .any(|r| r.table == c.table && r.chain == c.name)
        })
    }

    /// What --dry-run prints: the chain set-up (guarded, so it can repeat)
    /// and one `iptables` command per rule, as a reader of the tutorials would type them.
    pub fn shell(&self) -> Vec<String> {
        let mut lines = self.setup_shell();
        let cmd = format!("{}{}", shell::exec_prefix(&self.ns), self.command());
        lines.extend(
            self.rules
                .iter()
                .map(|r| format!("{cmd} -w -t {} {}", r.table, r.line(&self.comment))),
        );
        lines
    }

    /// Guarded commands that create plumb's chains this batch uses and jump to them.
    pub fn setup_shell(&self) -> Vec<String> {
        let cmd = format!("{}{} -w", shell::exec_prefix(&self.ns), self.command());
        let mut lines = Vec::new();
        for c in self.chains() {
            let new_chain = format!("{cmd} -t {} -N {} 2>/dev/null || true", c.table, c.name);
            if !lines.contains(&new_chain) {
                lines.push(new_chain);
            }
            let (t, b, jump) = (c.table, c.builtin, c.jump_spec());
            lines.push(format!(
                "{cmd} -t {t} -C {b} {jump} 2>/dev/null || {cmd} -t {t} -I {b} 1 {jump}"
            ));
        }
        lines
    }

    fn restore(&self, input: &str) -> Result<process::ExecOutput> {
        let argv = vec![
            format!("{}-restore", self.command()),
            "--noflush".into(),
            "--wait".into(),
        ];
        process::exec_with_input(&self.ns, &argv, input)
    }

    /// The namespace's rules as `iptables-save` prints them (one process):
    /// only the batch's table when it has one (`-t` takes one table), as
    /// every question asked of them is about the batch's own tables.
    fn saved(&self) -> Result<Saved> {
        let mut argv = vec![format!("{}-save", self.command())];
        let mut tables = self.rules.iter().map(|r| r.table.as_str());
        if let Some(first) = tables.next() {
            if tables.all(|t| t == first) {
                argv.extend(["-t".to_string(), first.to_string()]);
            }
        }
        let out = process::exec_in(&self.ns, &argv, Some(Duration::from_secs(60)), None)?;
        if out.code != 0 {
            return Err(Error::Firewall(format!(
                "{}-save failed: {}",
                self.command(),
                out.stderr.trim()
            )));
        }
        Ok(Saved::parse(&out.stdout))
    }

    /// Lines that create the chains this batch needs and are missing, and the
    /// jumps to them that are missing.
    fn setup_lines(&self, saved: &Saved) -> Vec<(&'static str, String)> {
        let mut lines = Vec::new();
        for c in self.chains() {
            let declare = (c.table, format!(":{} - [0:0]", c.name));
            if !saved.has_chain(c.table, c.name) && !lines.contains(&declare) {
                lines.push(declare);
            }
            if saved.jumps(c).is_empty() {
                lines.push((c.table, format!("-I {} 1 {}", c.builtin, c.jump_spec())));
            }
        }
        lines
    }

    /// The input that sets up plumb's chains and adds the rules.
    fn apply_input(&self, saved: &Saved) -> String {
        let mut lines = self.setup_lines(saved);
        lines.extend(
            self.rules
                .iter()
                .map(|r| (r.table.as_str(), r.restore_line(&self.comment))),
        );
        restore_text(&lines)
    }

    /// Set up plumb's chains and add the rules in one atomic restore: if the
    /// kernel refuses any line, nothing changes ([`Error::Rejected`] names
    /// the rule).
    pub fn apply(&self) -> Result<()> {
        let saved = self.saved()?;
        self.check_ports(&saved)?;
        let input = self.apply_input(&saved);
        let out = self.restore(&input)?;
        if out.code == 0 {
            return Ok(());
        }
        Err(self.explain_failure(&input, &out))
    }

    /// One host port is published once: a DNAT rule of this batch for a
    /// port (and protocol, and host address) that plumb's DNAT chain, or
    /// this batch, already sends somewhere is refused, as Docker refuses
    /// "port is already allocated". Decided under the caller's lock.
    fn check_ports(&self, saved: &Saved) -> Result<()> {
        let mut taken: Vec<(Published, String)> = saved
            .rules("nat", DNAT)
            .iter()
            .filter_map(|r| {
                let words = words_of(&r.text);
                Some((
                    Published::of(&words)?,
                    r.comment.clone().unwrap_or_default(),
                ))
            })
            .collect();
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.table != "nat" || rule.chain != DNAT {
                continue;
            }
            let mut words = rule.matches.clone();
            words.extend(rule.target.iter().cloned());
            let Some(new) = Published::of(&words) else {
                continue;
            };
            if let Some((old, owner)) = taken.iter().find(|(old, _)| old.clashes(&new)) {
                return Err(Error::Rejected {
                    rule: Some(i),
                    message: format!(
                        "port {} is published already (to {}, by {owner}); a host port goes to one place",
                        new.describe(),
                        old.to
                    ),
                });
            }
            taken.push((new, "this run".into()));
        }
        Ok(())
    }

    /// iptables-restore names the failing line; name the rule instead.
    fn explain_failure(&self, input: &str, out: &process::ExecOutput) -> Error {
        let stderr = out.stderr.trim();
        let why = if stderr.is_empty() {
            format!("exited with {}", out.code)
        } else {
            stderr.to_string()
        };
        let failed_line = stderr
            .split("line ")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| input.lines().nth(n.checked_sub(1)?));
        let rule = failed_line.and_then(|line| {
            self.rules
                .iter()
                .position(|r| r.restore_line(&self.comment) == line)
        });
        let message = match failed_line {
            Some(line) => format!("{} rejected `{line}`: {why}", self.command()),
            None => format!("{}-restore failed: {why}", self.command()),
        };
        Error::Rejected { rule, message }
    }

    /// Remove whatever part of this batch is in the kernel (all of it, some,
    /// or none: a batch may have been cut short), then plumb's chains it used
    /// once they are empty, with every jump to them. One save, one restore.
    pub fn remove(&self) -> Result<()> {
        let saved = self.saved()?;
        let lines = self.removal_lines(&saved);
        if lines.is_empty() {
            return Ok(());
        }
        let input = restore_text(&lines);
        let out = self.restore(&input)?;
        if out.code != 0 {
            return Err(Error::Firewall(format!(
                "remove the rules of {}: {}",
                self.comment,
                self.explain_failure(&input, &out)
            )));
        }
        Ok(())
    }

    /// Chains with many of this batch's rules are rebuilt (declared, which
    /// flushes them, and refilled with the other rules in order): deleting
    /// rule by rule makes iptables search the chain for each, quadratic in
    /// its length. A few rules, and rules in other chains, are deleted by
    /// the text iptables-save printed.
    fn removal_lines(&self, saved: &Saved) -> Vec<(&'static str, String)> {
        const REBUILD_ABOVE: usize = 16;
        let mut lines: Vec<(&'static str, String)> = Vec::new();
        let mut emptied: Vec<&'static Chain> = Vec::new();
        for table in TABLES {
            for chain in saved.chains(table) {
                let rules = saved.rules(table, &chain);
                let (ours, others): (Vec<&SavedRule>, Vec<&SavedRule>) = rules
                    .iter()
                    .partition(|r| r.comment.as_deref() == Some(self.comment.as_str()));
                if ours.is_empty() {
                    continue;
                }
                let plumb_chain = is_plumb_chain(&chain);
                if plumb_chain && ours.len() > REBUILD_ABOVE {
                    lines.push((table, format!(":{chain} - [0:0]")));
                    lines.extend(others.iter().map(|r| (*table, r.text.clone())));
                } else {
                    lines.extend(
                        ours.iter()
                            .map(|r| (*table, format!("-D {}", &r.text[3..]))),
                    );
                }
                if plumb_chain && others.is_empty() {
                    emptied.extend(
                        CHAINS
                            .iter()
                            .filter(|c| c.name == chain && c.table == *table),
                    );
                }
            }
        }
        // Empty plumb chains that this batch used go too, even if its rules
        // were already gone: after every jump to them (PLUMB-DNAT has two;
        // an older plumb may have left duplicates).
        for c in self.chains() {
            if saved.has_chain(c.table, c.name)
                && saved.rules(c.table, c.name).is_empty()
                && !emptied
                    .iter()
                    .any(|e| e.name == c.name && e.builtin == c.builtin)
            {
                emptied.push(c);
            }
        }
        let mut removals: Vec<(&'static str, String)> = Vec::new();
        for c in &emptied {
            removals.extend(
                saved
                    .jumps(c)
                    .into_iter()
                    .map(|j| (c.table, format!("-D {}", &j[3..]))),
            );
        }
        for c in &emptied {
            let remove = (c.table, format!("-X {}", c.name));
            if !removals.contains(&remove) {
                removals.push(remove);
            }
        }
        lines.extend(removals);
        lines
    }

    /// Which of this batch's rules are in the kernel (for drift checks).
    pub fn present(&self) -> Result<usize> {
        let saved = self.saved()?;
        Ok(TABLES
            .iter()
            .flat_map(|t| {
                let saved = &saved;
                saved
                    .chains(t)
                    .into_iter()
                    .flat_map(move |c| saved.rules(t, &c))
            })
            .filter(|r| r.comment.as_deref() == Some(self.comment.as_str()))
            .count())
    }
}

/// Every rule in `ns` whose comment starts with `prefix`: (table, chain,
/// comment), one entry per (table, chain, comment).
pub fn commented(ns: &NsRef, v6: bool, prefix: &str) -> Result<Vec<(String, String, String)>> {
    let probe = Batch {
        ns: ns.clone(),
        v6,
        comment: String::new(),
        rules: Vec::new(),
    };
    let saved = probe.saved()?;
    let mut found = Vec::new();
    for table in TABLES {
        for chain in saved.chains(table) {
            for rule in saved.rules(table, &chain) {
                if let Some(c) = rule.comment.as_ref().filter(|c| c.starts_with(prefix)) {
                    let entry = (table.to_string(), chain.clone(), c.clone());
                    if !found.contains(&entry) {
                        found.push(entry);
                    }
                }
            }
        }
    }
    Ok(found)
}

/// Check a rule's syntax with the real iptables (`-C` exits 2 on bad
/// arguments, 1 when the rule is merely absent), so a mistyped raw rule is
/// reported where the script wrote it, not when its batch is applied. The
/// words go to iptables as argv, never re-split: the `iptables` crate's
/// quote splitting turns `--log-prefix "DROP: "` into `Bad argument ''`.
pub fn check_syntax(
    ns: &NsRef,
    v6: bool,
    table: &str,
    chain: &str,
    words: &[String],
) -> Result<()> {
    let command = if v6 { "ip6tables" } else { "iptables" };
    let mut argv: Vec<String> = [command, "-w", "-t", table, "-C", chain]
        .iter()
        .map(|s| s.to_string())
        .collect();
    argv.extend(words.iter().cloned());
    let out = process::exec_in(ns, &argv, Some(Duration::from_secs(30)), None)?;
    match out.code {
        0 | 1 => Ok(()),
        // The first line says why; the rest is iptables' usage hint.
        _ => Err(Error::Firewall(format!(
            "{command} rejects `-t {table} -A {chain} {}`: {}",
            crate::error::cut(&shell::join(words)),
            out.stderr
                .trim()
                .lines()
                .next()
                .unwrap_or("no reason given")
        ))),
    }
}

/// What a DNAT rule publishes: protocol, host port, host address (None:
/// every local address) and target.
#[derive(Debug, PartialEq)]
struct Published {
    proto: String,
    port: String,
    host: Option<String>,
    to: String,
}

impl Published {
    fn of(words: &[String]) -> Option<Published> {
        let after = |flag: &str| {
            words
                .iter()
                .position(|w| w == flag)
                .and_then(|i| words.get(i + 1))
                .cloned()
        };
        Some(Published {
            proto: after("-p")?,
            port: after("--dport")?,
            host: after("-d").map(|h| h.trim_end_matches("/32").to_string()),
            to: after("--to-destination")?,
        })
    }

    fn clashes(&self, other: &Published) -> bool {
        self.proto == other.proto
            && self.port == other.port
            && (self.host.is_none() || other.host.is_none() || self.host == other.host)
    }

    fn describe(&self) -> String {
        match &self.host {
            Some(h) => format!("{h}:{}/{}", self.port, self.proto),
            None => format!("{}/{}", self.port, self.proto),
        }
    }
}

/// The words of a saved rule line (iptables-save quotes with double quotes).
fn words_of(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => word.extend(chars.next()),
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// A rule line of `iptables-save`: its text and its ownership comment.
#[derive(Debug, PartialEq)]
struct SavedRule {
    text: String,
    comment: Option<String>,
}

/// What `iptables-save` printed, by table: chains and rule lines in order.
struct Saved {
    /// (table, chain, rules).
    chains: Vec<(String, String, Vec<SavedRule>)>,
}

/// The ownership mark of a saved rule line: its `--comment` that is plumb's,
/// else its first (iptables-save quotes them).
fn comment_of(line: &str) -> Option<String> {
    let comments: Vec<String> = line
        .split(" --comment ")
        .skip(1)
        .filter_map(comment_value)
        .collect();
    // A raw rule may carry comments of its own before plumb's mark.
    let mark = comments.iter().find(|c| c.starts_with("plumb:"));
    mark.or(comments.first()).cloned()
}

/// The value at the start of `rest`: a double-quoted string or one word.
fn comment_value(rest: &str) -> Option<String> {
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend(chars.next()),
                '"' => return Some(value),
                c => value.push(c),
            }
        }
        None
    } else {
        rest.split_whitespace().next().map(str::to_string)
    }
}

impl Saved {
    fn parse(text: &str) -> Saved {
        let mut chains: Vec<(String, String, Vec<SavedRule>)> = Vec::new();
        let mut table = String::new();
        for line in text.lines() {
            if let Some(name) = line.strip_prefix('*') {
                table = name.to_string();
            } else if let Some(decl) = line.strip_prefix(':') {
                let name = decl.split_whitespace().next().unwrap_or_default();
                chains.push((table.clone(), name.to_string(), Vec::new()));
            } else if let Some(rule) = line.strip_prefix("-A ") {
                let chain = rule.split_whitespace().next().unwrap_or_default();
                if let Some((_, _, rules)) = chains
                    .iter_mut()
                    .find(|(t, c, _)| *t == table && c == chain)
                {
                    rules.push(SavedRule {
                        text: line.to_string(),
                        comment: comment_of(line),
                    });
                }
            }
        }
        Saved { chains }
    }

    fn chains(&self, table: &str) -> Vec<String> {
        self.chains
            .iter()
            .filter(|(t, _, _)| t == table)
            .map(|(_, c, _)| c.clone())
            .collect()
    }

    fn rules(&self, table: &str, chain: &str) -> &[SavedRule] {
        self.chains
            .iter()
            .find(|(t, c, _)| t == table && c == chain)
            .map_or(&[], |(_, _, r)| r.as_slice())
    }

    fn has_chain(&self, table: &str, chain: &str) -> bool {
        self.chains.iter().any(|(t, c, _)| t == table && c == chain)
    }

    /// Every rule in the chain's built-in that jumps to it (only plumb jumps
    /// to its chains; an older plumb may have left more than one).
    fn jumps(&self, c: &Chain) -> Vec<String> {
        let target = format!("-j {}", c.name);
        self.rules(c.table, c.builtin)
            .iter()
            .filter(|r| r.text.ends_with(&target))
            .map(|r| r.text.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Batch {
        Batch {
            ns: NsRef::Host,
            v6: false,
            comment: "plumb:run1/2".into(),
            rules: vec![
                Rule::new(
                    "nat",
                    POSTROUTING,
                    &["-s", "172.18.0.0/16", "!", "-o", "br0"],
                    &["-j", "MASQUERADE"],
                ),
                Rule::new(
                    "filter",
                    FORWARD,
                    &["-i", "br0", "-o", "br1"],
                    &["-j", "DROP"],
                )
                .at_top(),
            ],
        }
    }

    #[test]
    fn a_fresh_table_gets_chains_jumps_and_rules_in_one_input() {
        let text = batch().apply_input(&Saved::parse(""));
        assert_eq!(
            text,
            "*filter\n:PLUMB-FORWARD - [0:0]\n-I FORWARD 1 -j PLUMB-FORWARD\n\
             -I PLUMB-FORWARD 1 -i br0 -o br1 -m comment --comment plumb:run1/2 -j DROP\nCOMMIT\n\
             *nat\n:PLUMB-POSTROUTING - [0:0]\n-I POSTROUTING 1 -j PLUMB-POSTROUTING\n\
             -A PLUMB-POSTROUTING -s 172.18.0.0/16 ! -o br0 -m comment --comment plumb:run1/2 -j MASQUERADE\nCOMMIT\n"
        );
    }

    #[test]
    fn dry_run_text_sets_up_each_chain_then_prints_each_rule() {
        let lines = batch().shell();
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert_eq!(
            lines[0],
            "iptables -w -t nat -N PLUMB-POSTROUTING 2>/dev/null || true"
        );
        assert!(lines[1].contains("-C POSTROUTING -j PLUMB-POSTROUTING 2>/dev/null ||"));
        assert!(lines[4].starts_with("iptables -w -t nat -A PLUMB-POSTROUTING -s 172.18.0.0/16"));
        assert!(lines[5].starts_with("iptables -w -t filter -I PLUMB-FORWARD 1 -i br0"));
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
    fn a_rejected_line_is_traced_to_its_rule() {
        let b = batch();
        let input = b.apply_input(&Saved::parse(SAVED));
        let out = process::ExecOutput {
            code: 2,
            stdout: String::new(),
            stderr: "iptables-restore: line 2 failed".into(),
            timed_out: false,
        };
        let Error::Rejected { rule, message } = b.explain_failure(&input, &out) else {
            panic!("not a rejection");
        };
        assert!(message.contains("rejected `-I PLUMB-FORWARD"), "{message}");
        assert_eq!(rule, Some(1));
        // Killed by a signal: no text at all, yet the message says what happened.
        let killed = process::ExecOutput {
            code: 130,
            stderr: String::new(),
            ..out
        };
        let text = b.explain_failure(&input, &killed).to_string();
        assert!(text.contains("exited with 130"), "{text}");
    }

    #[test]
    fn restore_input_quotes_as_iptables_restore_reads_it() {
        assert_eq!(restore_quote("ACCEPT"), "ACCEPT");
        assert_eq!(restore_quote("it's"), "it's");
        assert_eq!(restore_quote("DROP: "), "\"DROP: \"");
        assert_eq!(restore_quote(r#"say "hi" \o/"#), r#""say \"hi\" \\o/""#);
        assert_eq!(restore_quote(""), "\"\"");
        let rule = Rule::new(
            "filter",
            "INPUT",
            &[],
            &["-j", "LOG", "--log-prefix", "DROP: "],
        );
        assert_eq!(
            rule.restore_line("plumb:1/2"),
            "-A INPUT -m comment --comment plumb:1/2 -j LOG --log-prefix \"DROP: \""
        );
        assert_eq!(
            rule.line("plumb:1/2"),
            "-A INPUT -m comment --comment plumb:1/2 -j LOG --log-prefix 'DROP: '"
        );
    }

    const SAVED: &str = "# Generated by iptables-save\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:PLUMB-FORWARD - [0:0]\n-A FORWARD -j PLUMB-FORWARD\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:PLUMB-POSTROUTING - [0:0]\n-A PLUMB-POSTROUTING -s 10.0.0.0/8 -m comment --comment \"plumb:other/1\" -j MASQUERADE\nCOMMIT\n";

    #[test]
    fn a_host_port_is_published_once() {
        let dnat = |port: &str, host: Option<&str>| {
            let mut m = vec![];
            if let Some(h) = host {
                m.extend(["-d", h]);
            }
            m.extend(["-p", "tcp", "-m", "tcp", "--dport", port]);
            Rule::new(
                "nat",
                DNAT,
                &m,
                &["-j", "DNAT", "--to-destination", "10.0.0.2:80"],
            )
        };
        let saved = Saved::parse(
            "*nat\n:PLUMB-DNAT - [0:0]\n-A PLUMB-DNAT -p tcp -m tcp --dport 8080 -m comment --comment \"plumb:r1/3\" -j DNAT --to-destination 10.0.0.9:80\nCOMMIT\n",
        );
        let batch_of = |rules| Batch {
            ns: NsRef::Host,
            v6: false,
            comment: "plumb:r2/1".into(),
            rules,
        };
        let err = batch_of(vec![dnat("5000", None), dnat("8080", Some("10.0.2.15"))])
            .check_ports(&saved)
            .unwrap_err();
        let Error::Rejected { rule, message } = err else {
            panic!()
        };
        assert_eq!(rule, Some(1));
        assert!(
            message.contains(
                "10.0.2.15:8080/tcp is published already (to 10.0.0.9:80, by plumb:r1/3)"
            ),
            "{message}"
        );
        // Twice in one batch, and on two different host addresses (no clash).
        assert!(batch_of(vec![dnat("5000", None), dnat("5000", None)])
            .check_ports(&saved)
            .is_err());
        assert!(batch_of(vec![
            dnat("5000", Some("10.0.2.15")),
            dnat("5000", Some("10.0.2.16"))
        ])
        .check_ports(&saved)
        .is_ok());
    }

    #[test]
    fn setup_adds_only_missing_chains_and_jumps() {
        let saved = Saved::parse(SAVED);
        let lines = batch().setup_lines(&saved);
        // nat: the chain exists but nothing jumps to it; filter: both exist.
        assert_eq!(
            lines,
            vec![("nat", "-I POSTROUTING 1 -j PLUMB-POSTROUTING".to_string())]
        );
    }

    #[test]
    fn saved_rules_keep_their_comments() {
        let saved = Saved::parse(SAVED);
        assert!(saved.has_chain("nat", POSTROUTING));
        assert!(!saved.has_chain("nat", DNAT));
        let rules = saved.rules("nat", POSTROUTING);
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].comment.as_deref(), Some("plumb:other/1"));
        assert_eq!(
            comment_of(r#"-A X -m comment --comment "a \"b\"" -j A"#).as_deref(),
            Some("a \"b\"")
        );
        assert_eq!(
            comment_of(r#"-A X -m comment --comment "mine" -m comment --comment "plumb:1/2" -j A"#)
                .as_deref(),
            Some("plumb:1/2")
        );
        assert_eq!(
            comment_of("-A X -m comment --comment x -j A").as_deref(),
            Some("x")
        );
        assert_eq!(
            saved.jumps(&CHAINS[3]),
            vec!["-A FORWARD -j PLUMB-FORWARD".to_string()]
        );
    }

    /// A saved table holding `ours` rules of this batch and `others` of another run.
    fn saved_with(ours: usize, others: usize) -> Saved {
        let mut text = String::from("*filter\n:FORWARD ACCEPT [0:0]\n:PLUMB-FORWARD - [0:0]\n-A FORWARD -j PLUMB-FORWARD\n-A FORWARD -j PLUMB-FORWARD\n");
        for i in 0..ours.max(others) {
            if i < others {
                text += &format!("-A PLUMB-FORWARD -d 10.0.0.{i}/32 -m comment --comment \"plumb:other/1\" -j ACCEPT\n");
            }
            if i < ours {
                text += &format!("-A PLUMB-FORWARD -d 10.1.0.{i}/32 -m comment --comment \"plumb:run1/2\" -j ACCEPT\n");
            }
        }
        Saved::parse(&(text + "COMMIT\n"))
    }

    fn forward_batch() -> Batch {
        Batch {
            rules: vec![Rule::new(
                "filter",
                FORWARD,
                &["-d", "10.1.0.0"],
                &["-j", "ACCEPT"],
            )],
            ..batch()
        }
    }

    #[test]
    fn a_few_rules_are_deleted_by_their_saved_text_and_others_stay() {
        let lines = forward_batch().removal_lines(&saved_with(2, 3));
        assert_eq!(
            lines,
            vec![
                ("filter", "-D PLUMB-FORWARD -d 10.1.0.0/32 -m comment --comment \"plumb:run1/2\" -j ACCEPT".to_string()),
                ("filter", "-D PLUMB-FORWARD -d 10.1.0.1/32 -m comment --comment \"plumb:run1/2\" -j ACCEPT".to_string()),
            ]
        );
    }

    #[test]
    fn many_rules_rebuild_the_chain_with_the_others_in_order() {
        let lines = forward_batch().removal_lines(&saved_with(40, 3));
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert_eq!(lines[0], ("filter", ":PLUMB-FORWARD - [0:0]".to_string()));
        for (i, (_, line)) in lines[1..].iter().enumerate() {
            assert!(
                line.starts_with(&format!("-A PLUMB-FORWARD -d 10.0.0.{i}/32")),
                "{line}"
            );
        }
    }

    #[test]
    fn the_last_rules_take_the_chain_and_every_jump_with_them() {
        let lines = forward_batch().removal_lines(&saved_with(40, 0));
        let tail: Vec<&str> = lines
            .iter()
            .rev()
            .take(3)
            .map(|(_, l)| l.as_str())
            .collect();
        assert_eq!(
            tail,
            vec![
                "-X PLUMB-FORWARD",
                "-D FORWARD -j PLUMB-FORWARD",
                "-D FORWARD -j PLUMB-FORWARD"
            ]
        );
        // Already removed by hand: the empty chain still goes.
        let lines = forward_batch().removal_lines(&saved_with(0, 0));
        assert_eq!(lines.last().unwrap().1, "-X PLUMB-FORWARD");
    }
}
