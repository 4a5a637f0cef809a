//! The scripts against their documents: for each document section with
//! runnable commands, the commands transcribed into tests/documents/*.sh and
//! the script run with the parameters that match them must build the same
//! state and the same reachability, except for the differences named here
//! (each also listed in the script's "Differs from the document" header).
//!
//! Each side runs in a fresh sandbox: build (fixture, or environment +
//! `plumb run`), start the section's HTTP servers, run the probes in
//! parallel, then dump the state (tests/documents/lib/record.sh). The dump
//! is normalised into one line per fact:
//! - links: name, kind, master, up (the admin flag), MTU, and for vxlan and
//!   macvlan the settings that make them what they are; not ifindex, MAC,
//!   alias (plumb's ownership mark), queue counts;
//! - addresses: each with its prefix; a broadcast address as a line of its
//!   own; IPv6 link-local addresses as `fe80::LL` (they derive from the MAC);
//! - routes of every table, IPv4 and IPv6 (link-local addresses as above);
//! - sysctls: ip_forward, IPv6 off (all, default), bridge-nf-call-iptables;
//! - iptables and ip6tables, as the effective rules of each built-in chain:
//!   jumps to user chains are inlined (the jump's matches prefixed to each
//!   rule of the chain, so plumb's PLUMB-* chains and Docker's DOCKER-*
//!   chains vanish), comments dropped (plumb's ownership marks), the
//!   RETURNs that end a user chain dropped (no-ops); non-ACCEPT policies kept.
//!
//! Reachability lines come first: "reach ping FROM -> IP: yes|no" and
//! "reach http FROM -> URL: BODY|no", where a server with an empty body
//! answers with the client's address (the NAT source it saw).

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use common::sandbox;
use serde_json::Value;

/// Who probes what: a ping, or an HTTP GET whose answer (the server's body,
/// or the client address it saw) is recorded. `from` is a namespace or "host".
enum Probe {
    Ping(&'static str, &'static str),
    Http(&'static str, &'static str),
}

/// An HTTP server the probes talk to: namespace, "IP:PORT", body ("" answers
/// with the client's address).
struct Server(&'static str, &'static str, &'static str);

/// A difference the document and the script are allowed (and expected) to
/// have: the normalised lines only the document's side has, and those only
/// the script's side has, as globs (`*` any text, `?` one character). Each pattern must
/// match at least one line, so a difference that went away fails the test too.
struct Difference {
    why: &'static str,
    document: &'static [&'static str],
    script: &'static [&'static str],
}

/// A name the document's side cannot choose (the CNI plugin's random veth
/// name): words of the document's lines matching `document` (a glob, `?` one
/// character) and the word `script` on the script's side both read
/// `<script>` before the sides are compared. Each must occur on its side.
struct Rename {
    why: &'static str,
    document: &'static str,
    script: &'static str,
}

struct Section {
    fixture: &'static str,
    /// Commands run before the script: the fixture's own stand-ins for the
    /// document's machine (uplink, Docker's FORWARD policy ...).
    environment: &'static str,
    script: &'static str,
    params: &'static [&'static str],
    servers: &'static [Server],
    probes: &'static [Probe],
    renames: &'static [Rename],
    differences: &'static [Difference],
}

/// The bash that builds one side (`build`), then serves, probes and records.
fn side_script(section: &Section, build: &str) -> String {
    let mut s = format!("{{\n{build}\n}} >&2\nwork=$(mktemp -d)\n");
    for (i, Server(ns, listen, body)) in section.servers.iter().enumerate() {
        writeln!(
            s,
            "{} python3 tests/documents/lib/serve.py {listen} '{body}' $work/ready{i} >&2 &",
            in_ns(ns)
        )
        .unwrap();
    }
    writeln!(
        s,
        "for _ in $(seq 100); do [ $(ls $work | grep -c ready) = {n} ] && break; sleep 0.05; done\n\
         [ $(ls $work | grep -c ready) = {n} ] || die 'the HTTP servers did not start'",
        n = section.servers.len()
    )
    .unwrap();
    s += "probes=()\n";
    for (i, probe) in section.probes.iter().enumerate() {
        let (from, command) = match probe {
            Probe::Ping(from, ip) => (
                from,
                format!("ping -c1 -W1 {ip} >/dev/null 2>&1 && echo yes || echo no"),
            ),
            Probe::Http(from, url) => (from, format!("curl -s --max-time 2 {url} || echo no")),
        };
        writeln!(
            s,
            "( {} bash -c '{command}' > $work/probe{i} 2>/dev/null ) & probes+=($!)",
            in_ns(from)
        )
        .unwrap();
    }
    s += "wait \"${probes[@]}\"\n";
    for (i, probe) in section.probes.iter().enumerate() {
        let label = match probe {
            Probe::Ping(from, ip) => format!("reach ping {from} -> {ip}:"),
            Probe::Http(from, url) => format!("reach http {from} -> {url}:"),
        };
        writeln!(
            s,
            "echo \"{label} $(head -c 100 $work/probe{i} | tr -d '\\n')\""
        )
        .unwrap();
    }
    s += "bash tests/documents/lib/record.sh\n";
    s
}

fn in_ns(ns: &str) -> String {
    if ns == "host" {
        String::new()
    } else {
        format!("ip netns exec {ns}")
    }
}

/// Run the document's fixture in a fresh sandbox: its normalised state.
fn document_side(section: &Section) -> Vec<String> {
    let build = format!("bash {}", section.fixture);
    normalise(&sandbox(&side_script(section, &build)).ok().stdout)
}

/// Run the environment and the script with `params` in a fresh sandbox.
fn script_side(section: &Section, params: &[&str]) -> Vec<String> {
    let sets: String = params.iter().map(|p| format!(" --set {p}")).collect();
    let build = format!(
        "{}\nplumb run {}{sets}",
        section.environment, section.script
    );
    normalise(&sandbox(&side_script(section, &build)).ok().stdout)
}

/// Both sides, each in its own sandbox, at the same time.
fn both_sides(section: &Section) -> (Vec<String>, Vec<String>) {
    std::thread::scope(|s| {
        let document = s.spawn(|| document_side(section));
        let script = script_side(section, section.params);
        (document.join().unwrap(), script)
    })
}

/// The dump of one side as sorted fact lines (see the module's doc).
fn normalise(dump: &str) -> Vec<String> {
    let mut lines: Vec<String> = dump
        .lines()
        .take_while(|l| !l.starts_with("@@ "))
        .map(String::from)
        .collect();
    let mut part = ("", "");
    let mut body = String::new();
    let flush = |part: (&str, &str), body: &str, lines: &mut Vec<String>| {
        if !part.0.is_empty() {
            normalise_part(part.0, part.1, body, lines);
        }
    };
    for line in dump.lines().skip_while(|l| !l.starts_with("@@ ")) {
        if let Some(header) = line.strip_prefix("@@ ") {
            flush(part, &body, &mut lines);
            body.clear();
            let (ns, what) = header.split_once(' ').unwrap();
            part = (ns, what);
        } else {
            body += line;
            body += "\n";
        }
    }
    flush(part, &body, &mut lines);
    lines.sort();
    lines
}

fn normalise_part(ns: &str, what: &str, body: &str, out: &mut Vec<String>) {
    let json = || -> Vec<Value> {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{ns} {what}: {e}\n{body}"))
    };
    match what {
        "link" => out.extend(json().iter().map(|l| format!("{ns} {}", link_line(l)))),
        "addr" => {
            for link in json() {
                let dev = text(&link["ifname"]);
                for a in link["addr_info"].as_array().into_iter().flatten() {
                    let local = link_local(&text(&a["local"]));
                    out.push(format!("{ns} addr {dev} {local}/{}", a["prefixlen"]));
                    if let Some(brd) = a["broadcast"].as_str() {
                        out.push(format!("{ns} broadcast {dev} {brd}"));
                    }
                }
            }
        }
        "route4" | "route6" => out.extend(json().iter().map(|r| format!("{ns} {}", route_line(r)))),
        "sysctl" => out.extend(body.lines().map(|l| format!("{ns} sysctl {l}"))),
        "iptables" | "ip6tables" => {
            let family = if what == "iptables" { "v4" } else { "v6" };
            out.extend(
                effective_rules(body)
                    .into_iter()
                    .map(|r| format!("{ns} {family} {r}")),
            );
        }
        _ => panic!("unknown part {what}"),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Link-local IPv6 addresses derive from the MAC, which differs between runs.
fn link_local(addr: &str) -> String {
    if addr.starts_with("fe80::") && addr != "fe80::" {
        "fe80::LL".into()
    } else {
        addr.into()
    }
}

fn link_line(l: &Value) -> String {
    let info = &l["linkinfo"];
    let kind = info["info_kind"]
        .as_str()
        .or(l["link_type"].as_str())
        .unwrap_or("?");
    let up = l["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f == "UP"));
    let mut line = format!(
        "link {} {kind} master={} {} mtu={}",
        text(&l["ifname"]),
        text(&l["master"]),
        if up { "up" } else { "down" },
        l["mtu"]
    );
    let data = &info["info_data"];
    let keys: &[&str] = match kind {
        // Not "link": the underlay's ifindex, named as seen from the VXLAN
        // device's own namespace, which may not be the underlay's.
        "vxlan" => &["id", "remote", "group", "local", "port", "learning"],
        "macvlan" => &["mode"],
        _ => &[],
    };
    for key in keys {
        if !data[key].is_null() {
            write!(line, " {key}={}", text(&data[key])).unwrap();
        }
    }
    line
}

fn route_line(r: &Value) -> String {
    let mut line = format!(
        "route {} {} {}",
        text(&r["table"]),
        text(&r["type"]),
        link_local(&text(&r["dst"]))
    );
    for (key, name) in [
        ("gateway", "via"),
        ("dev", "dev"),
        ("protocol", "proto"),
        ("scope", "scope"),
        ("prefsrc", "src"),
        ("metric", "metric"),
    ] {
        if !r[key].is_null() {
            write!(line, " {name} {}", link_local(&text(&r[key]))).unwrap();
        }
    }
    for flag in r["flags"].as_array().into_iter().flatten() {
        write!(line, " {}", text(flag)).unwrap();
    }
    line
}

/// Split an iptables-save rule into words, honouring double quotes.
fn words(rule: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut started) = (false, false);
    for c in rule.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    out.push(std::mem::take(&mut word));
                }
                started = false;
            }
            _ => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(word);
    }
    out
}

/// The effective rules of iptables-save text: "TABLE CHAIN MATCHES -j TARGET"
/// for each built-in chain, user chains inlined, plus "policy TABLE CHAIN P"
/// for each built-in chain whose policy is not ACCEPT.
fn effective_rules(save: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut table = String::new();
    let mut builtins: Vec<(String, String)> = Vec::new();
    let mut rules: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut finish = |table: &str,
                      builtins: &mut Vec<(String, String)>,
                      rules: &mut BTreeMap<String, Vec<Vec<String>>>| {
        for (chain, policy) in builtins.drain(..) {
            if policy != "ACCEPT" {
                out.push(format!("policy {table} {chain} {policy}"));
            }
            for rule in inline(&chain, rules, &[]) {
                out.push(format!("{table} {chain} {}", rule.join(" ")));
            }
        }
        rules.clear();
    };
    for line in save.lines() {
        if let Some(name) = line.strip_prefix('*') {
            table = name.to_string();
        } else if let Some(decl) = line.strip_prefix(':') {
            let mut parts = decl.split_whitespace();
            let (chain, policy) = (parts.next().unwrap(), parts.next().unwrap());
            rules.entry(chain.to_string()).or_default();
            if policy != "-" {
                builtins.push((chain.to_string(), policy.to_string()));
            }
        } else if let Some(rule) = line.strip_prefix("-A ") {
            let mut w = words(rule);
            let chain = w.remove(0);
            if let Some(i) = w
                .windows(3)
                .position(|x| x == ["-m", "comment", "--comment"])
            {
                w.drain(i..i + 4);
            }
            rules.entry(chain).or_default().push(w);
        } else if line == "COMMIT" {
            finish(&table, &mut builtins, &mut rules);
        }
    }
    out
}

/// A rule's matches and its target ("-j X ..."), split.
fn split_target(rule: &[String]) -> (&[String], &[String]) {
    let jump = rule.iter().position(|w| w == "-j").unwrap_or(rule.len());
    (&rule[..jump], &rule[jump..])
}

/// The rules of `chain` with `prefix` before their matches, jumps to user
/// chains replaced by those chains' rules; a chain's trailing RETURNs are
/// dropped (no-ops).
fn inline(
    chain: &str,
    rules: &BTreeMap<String, Vec<Vec<String>>>,
    prefix: &[String],
) -> Vec<Vec<String>> {
    let mut chain_rules = rules[chain].as_slice();
    // RETURNs with nothing after them change nothing.
    while let Some((last, before)) = chain_rules.split_last() {
        if split_target(last).1 != ["-j", "RETURN"] {
            break;
        }
        chain_rules = before;
    }
    let mut out = Vec::new();
    for rule in chain_rules {
        let (matches, jump) = split_target(rule);
        let mut full: Vec<String> = prefix.to_vec();
        full.extend(matches.iter().cloned());
        match jump.get(1) {
            Some(t) if rules.contains_key(t.as_str()) && t != chain => {
                out.extend(inline(t, rules, &full));
            }
            _ => {
                full.extend(jump.iter().cloned());
                out.push(full);
            }
        }
    }
    out
}

/// Does `text` match `pattern`, where `*` matches any text and `?` one character?
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // matched[j]: does the pattern so far match the first j characters of text?
    let mut matched = vec![false; t.len() + 1];
    matched[0] = true;
    for &pc in &p {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            next[j] = match pc {
                '*' => matched[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && matched[j - 1],
                c => j > 0 && matched[j - 1] && t[j - 1] == c,
            };
        }
        matched = next;
    }
    matched[t.len()]
}

/// Lines of `a` not in `b`, as multisets.
fn minus(a: &[String], b: &[String]) -> Vec<String> {
    let mut left: BTreeMap<&str, i32> = BTreeMap::new();
    for l in b {
        *left.entry(l).or_default() += 1;
    }
    a.iter()
        .filter(|l| {
            let n = left.entry(l.as_str()).or_default();
            *n -= 1;
            *n < 0
        })
        .cloned()
        .collect()
}

/// Ok when the two sides differ exactly by the named differences; otherwise
/// a report of what was unexpected and which named differences went away.
fn compare(
    differences: &[Difference],
    document: &[String],
    script: &[String],
) -> Result<(), String> {
    let mut report = String::new();
    for (side, only, patterns) in [
        (
            "document",
            minus(document, script),
            differences
                .iter()
                .map(|d| (d.why, d.document))
                .collect::<Vec<_>>(),
        ),
        (
            "script",
            minus(script, document),
            differences.iter().map(|d| (d.why, d.script)).collect(),
        ),
    ] {
        for line in &only {
            if !patterns
                .iter()
                .any(|(_, ps)| ps.iter().any(|p| glob(p, line)))
            {
                writeln!(
                    report,
                    "only in the {side}'s state, not a named difference: {line}"
                )
                .unwrap();
            }
        }
        for (why, ps) in &patterns {
            for p in ps.iter().filter(|p| !only.iter().any(|l| glob(p, l))) {
                writeln!(
                    report,
                    "named difference \"{why}\" no longer seen on the {side}'s side: {p}"
                )
                .unwrap();
            }
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

/// Apply the section's renames to both sides (see `Rename`).
fn rename(section: &Section, document: &mut [String], script: &mut [String]) {
    for r in section.renames {
        let placeholder = format!("<{}>", r.script);
        for (side, lines, pattern) in [
            ("document", &mut *document, r.document),
            ("script", &mut *script, r.script),
        ] {
            let mut seen = false;
            for line in lines.iter_mut() {
                let words: Vec<&str> = line
                    .split(' ')
                    .map(|w| {
                        if glob(pattern, w) {
                            seen = true;
                            placeholder.as_str()
                        } else {
                            w
                        }
                    })
                    .collect();
                *line = words.join(" ");
            }
            assert!(
                seen,
                "rename \"{}\": no {pattern} on the {side}'s side",
                r.why
            );
            lines.sort();
        }
    }
}

fn check(section: &Section) {
    let (mut document, mut script) = both_sides(section);
    rename(section, &mut document, &mut script);
    if let Err(report) = compare(section.differences, &document, &script) {
        panic!(
            "{} and {} --set {} differ:\n{report}\n--- document\n{}\n--- script\n{}",
            section.fixture,
            section.script,
            section.params.join(" --set "),
            document.join("\n"),
            script.join("\n")
        );
    }
}

/// Differences every script has from a document that builds with `ip`.
const BROADCAST: Difference = Difference {
    why: "plumb gives IPv4 addresses their broadcast address (as Docker and CNI do); `ip addr add` without `brd +` gives none",
    document: &[],
    script: &["* broadcast *"],
};

/// For documents that never bring lo up in their namespaces (plumb's netns() does, as `ip netns add` users and Docker do).
const LO_UP: Difference = Difference {
    why: "plumb's netns() brings lo up; the document never does",
    document: &[
        "* link lo loopback master=- down mtu=65536",
        "reach ping * -> 127.0.0.1: no",
    ],
    script: &[
        "* link lo loopback master=- up mtu=65536",
        "* addr lo *",
        "* route local local * dev lo *",
        "reach ping * -> 127.0.0.1: yes",
    ],
};

const BRIDGE_NAT: Section = Section {
    fixture: "tests/documents/000-bridge-nat.sh",
    environment: "bash tests/documents/lib/uplink.sh 10.0.2.15/24 10.0.2.2 223.5.5.5",
    script: "scripts/bridge-nat.rhai",
    params: &["host_ip=10.0.2.15", "ipv6=true"],
    servers: &[
        Server("netns0", "172.18.0.10:5000", "netns0"),
        Server("outside", "0.0.0.0:8000", ""),
    ],
    renames: &[],
    probes: &[
        Probe::Ping("netns0", "172.18.0.20"),
        Probe::Ping("netns1", "172.18.0.10"),
        Probe::Ping("host", "172.18.0.10"),
        Probe::Ping("netns0", "10.0.2.15"),
        Probe::Ping("netns1", "10.0.2.15"),
        Probe::Ping("netns0", "223.5.5.5"),
        Probe::Ping("netns1", "223.5.5.5"),
        Probe::Http("netns0", "http://223.5.5.5:8000/"),
        Probe::Http("host", "http://172.18.0.10:5000/"),
        Probe::Http("host", "http://10.0.2.15:5000/"),
        Probe::Http("outside", "http://10.0.2.15:5000/"),
        Probe::Http("host", "http://172.18.0.1:5000/"),
        Probe::Http("netns1", "http://10.0.2.15:5000/"),
        Probe::Http("netns0", "http://10.0.2.15:5000/"),
    ],
    differences: &[
        Difference {
            why: "the script turns on forwarding (publish() and masquerade() do); the document never does, so nothing crosses the host",
            document: &[
                "host sysctl net.ipv4.ip_forward = 0",
                "reach ping netns0 -> 223.5.5.5: no",
                "reach http netns0 -> http://223.5.5.5:8000/: no",
                "reach http outside -> http://10.0.2.15:5000/: no",
            ],
            script: &[
                "host sysctl net.ipv4.ip_forward = 1",
                "reach ping netns0 -> 223.5.5.5: yes",
                "reach http netns0 -> http://223.5.5.5:8000/: 10.0.2.15",
                "reach http outside -> http://10.0.2.15:5000/: netns0",
            ],
        },
        Difference {
            why: "the script gives netns1 a default route too; the document only netns0",
            document: &[
                "reach ping netns1 -> 10.0.2.15: no",
                "reach ping netns1 -> 223.5.5.5: no",
                "reach http netns1 -> http://10.0.2.15:5000/: no",
            ],
            script: &[
                "netns1 route main unicast default via 172.18.0.1 dev ceth1 proto boot scope global",
                "reach ping netns1 -> 10.0.2.15: yes",
                "reach ping netns1 -> 223.5.5.5: yes",
                "reach http netns1 -> http://10.0.2.15:5000/: netns0",
            ],
        },
        Difference {
            why: "publish() accepts the published port in FORWARD, for hosts whose policy is DROP",
            document: &[],
            script: &["host v4 filter FORWARD -d 172.18.0.10/32 -p tcp -m tcp --dport 5000 -j ACCEPT"],
        },
        Difference {
            why: "netns0 reaches its own published port through the host: publish() masquerades that hairpin traffic \
                  and veth0 is a hairpin bridge port; in the document (br_netfilter loaded) netns0 -> 10.0.2.15:5000 fails",
            document: &["reach http netns0 -> http://10.0.2.15:5000/: no"],
            script: &[
                "host v4 nat POSTROUTING -s 172.18.0.10/32 -d 172.18.0.10/32 -p tcp -m tcp --dport 5000 -j MASQUERADE",
                "reach http netns0 -> http://10.0.2.15:5000/: netns0",
            ],
        },
        Difference {
            why: "publish()'s DNAT chain is entered only for local destinations, the same for host_ip 10.0.2.15; \
                  loopback traffic DNATed behind br0 leaves it masqueraded (br0 routes 127.0.0.0/8), so 127.0.0.1:PORT works when published there",
            document: &[
                "host v4 nat PREROUTING -d 10.0.2.15/32 -p tcp -m tcp --dport 5000 -j DNAT --to-destination 172.18.0.10:5000",
                "host v4 nat OUTPUT -d 10.0.2.15/32 -p tcp -m tcp --dport 5000 -j DNAT --to-destination 172.18.0.10:5000",
            ],
            script: &[
                "host v4 nat PREROUTING -m addrtype --dst-type LOCAL -d 10.0.2.15/32 -p tcp -m tcp --dport 5000 -j DNAT --to-destination 172.18.0.10:5000",
                "host v4 nat OUTPUT -m addrtype --dst-type LOCAL -d 10.0.2.15/32 -p tcp -m tcp --dport 5000 -j DNAT --to-destination 172.18.0.10:5000",
                "host v4 nat POSTROUTING -s 127.0.0.0/8 -o br0 -j MASQUERADE",
            ],
        },
        BROADCAST,
    ],
};

#[test]
fn document_000_bridge_nat() {
    check(&BRIDGE_NAT);
}

/// The comparison can fail: without host_ip, the script publishes port 5000
/// on every local address, which the document does not.
#[test]
fn document_000_without_host_ip_differs() {
    let section = &BRIDGE_NAT;
    let (document, script) = std::thread::scope(|s| {
        let document = s.spawn(|| document_side(section));
        (
            document.join().unwrap(),
            script_side(section, &["ipv6=true"]),
        )
    });
    let report = compare(section.differences, &document, &script).unwrap_err();
    common::assert_contains(
        &report,
        &[
            "only in the script's state, not a named difference: reach http host -> http://172.18.0.1:5000/: netns0",
            "only in the script's state, not a named difference: host v4 nat PREROUTING -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 5000 -j DNAT",
        ],
    );
}

const THREE_NAMESPACES: Section = Section {
    fixture: "tests/documents/002-three-namespaces.sh",
    environment: "bash tests/documents/lib/uplink.sh 192.168.17.10/24 192.168.17.2 8.8.8.8",
    script: "scripts/three-namespaces.rhai",
    params: &["ipv6=true"],
    servers: &[
        Server("ns2", "0.0.0.0:8000", ""),
        Server("outside", "0.0.0.0:8000", ""),
    ],
    renames: &[],
    probes: &[
        Probe::Ping("ns1", "192.168.28.2"),
        Probe::Ping("ns1", "192.168.28.3"),
        Probe::Ping("ns2", "192.168.28.3"),
        Probe::Ping("ns3", "192.168.28.1"),
        Probe::Ping("ns3", "192.168.28.2"),
        Probe::Ping("host", "192.168.28.1"),
        Probe::Ping("host", "192.168.28.2"),
        Probe::Ping("host", "192.168.28.3"),
        Probe::Ping("ns1", "192.168.17.10"),
        Probe::Ping("ns1", "8.8.8.8"),
        Probe::Ping("ns3", "8.8.8.8"),
        Probe::Ping("ns1", "127.0.0.1"),
        Probe::Http("ns1", "http://8.8.8.8:8000/"),
        Probe::Http("ns1", "http://192.168.28.2:8000/"),
    ],
    differences: &[
        Difference {
            why: "the script's MASQUERADE has `! -o vbridge`: with br_netfilter (loaded on any Docker host) the document's \
                  also masquerades traffic between the namespaces on the bridge, so ns2 sees ns1 as 192.168.28.5",
            document: &[
                "host v4 nat POSTROUTING -s 192.168.28.0/24 -j MASQUERADE",
                "reach http ns1 -> http://192.168.28.2:8000/: 192.168.28.5",
            ],
            script: &[
                "host v4 nat POSTROUTING -s 192.168.28.0/24 ! -o vbridge -j MASQUERADE",
                "reach http ns1 -> http://192.168.28.2:8000/: 192.168.28.1",
            ],
        },
        LO_UP,
        BROADCAST,
    ],
};

#[test]
fn document_002_three_namespaces() {
    check(&THREE_NAMESPACES);
}

/// For documents whose containers are Docker's (lib/container.sh): Docker
/// turns IPv6 off with net.ipv6.conf.all.disable_ipv6, plumb's netns() with
/// the default only, so lo keeps ::1.
const LO_KEEPS_IPV6: Difference = Difference {
    why: "plumb turns IPv6 off for new interfaces only (default.disable_ipv6), Docker for all (all.disable_ipv6): lo keeps ::1",
    document: &["* sysctl net.ipv6.conf.all.disable_ipv6 = 1", "reach ping * -> ::1: no"],
    script: &[
        "* sysctl net.ipv6.conf.all.disable_ipv6 = 0",
        "* addr lo ::1/128",
        "* route local local ::1 dev lo *",
        "reach ping * -> ::1: yes",
    ],
};

const VETH_PAIR: Section = Section {
    fixture: "tests/documents/003-veth-pair.sh",
    environment: "",
    script: "scripts/veth-pair.rhai",
    params: &[],
    servers: &[Server("right", "0.0.0.0:80", "right")],
    renames: &[],
    probes: &[
        Probe::Ping("left", "10.113.1.2"),
        Probe::Ping("right", "10.113.1.1"),
        Probe::Ping("host", "10.113.1.1"),
        Probe::Ping("left", "127.0.0.1"),
        Probe::Ping("left", "::1"),
        Probe::Http("left", "http://10.113.1.2/"),
    ],
    differences: &[LO_KEEPS_IPV6, BROADCAST],
};

#[test]
fn document_003_veth_pair() {
    check(&VETH_PAIR);
}

const PRIVATE_BRIDGE: Section = Section {
    fixture: "tests/documents/003-private-bridge.sh",
    environment: "iptables -P FORWARD DROP",
    script: "scripts/private-bridge.rhai",
    params: &[],
    servers: &[Server("right", "0.0.0.0:80", "right")],
    renames: &[],
    probes: &[
        Probe::Ping("left", "10.113.1.2"),
        Probe::Ping("right", "10.113.1.1"),
        Probe::Ping("host", "10.113.1.1"),
        Probe::Ping("left", "::1"),
        Probe::Http("left", "http://10.113.1.2/"),
    ],
    differences: &[
        Difference {
            why: "the document sets the FORWARD policy back to ACCEPT, for all traffic; the script accepts only its bridge's (v4 and v6)",
            document: &[],
            script: &[
                "host v4 policy filter FORWARD DROP",
                "host v4 filter FORWARD -i br0 -j ACCEPT",
                "host v4 filter FORWARD -o br0 -j ACCEPT",
                "host v6 filter FORWARD -i br0 -j ACCEPT",
                "host v6 filter FORWARD -o br0 -j ACCEPT",
            ],
        },
        LO_KEEPS_IPV6,
        BROADCAST,
    ],
};

#[test]
fn document_003_private_bridge() {
    check(&PRIVATE_BRIDGE);
}

const ISOLATED_NETWORKS: Section = Section {
    fixture: "tests/documents/004-isolated-networks.sh",
    environment: "bash tests/documents/lib/uplink.sh 10.0.2.15/24 10.0.2.2
                  ip -n outside route add 172.20.0.0/16 via 10.0.2.15",
    script: "scripts/isolated-networks.rhai",
    params: &[],
    servers: &[
        Server("front2", "0.0.0.0:80", "front2"),
        Server("outside", "0.0.0.0:8000", ""),
    ],
    renames: &[],
    probes: &[
        Probe::Ping("front1", "172.20.0.3"),
        Probe::Ping("back1", "172.21.0.3"),
        Probe::Ping("front1", "172.21.0.2"),
        Probe::Ping("back1", "172.20.0.2"),
        Probe::Ping("back1", "172.20.0.1"),
        Probe::Ping("host", "172.20.0.2"),
        Probe::Ping("front1", "10.0.2.2"),
        Probe::Ping("back2", "10.0.2.2"),
        Probe::Ping("front1", "::1"),
        Probe::Http("front1", "http://172.20.0.3/"),
        Probe::Http("back1", "http://172.20.0.3/"),
        Probe::Http("front2", "http://10.0.2.2:8000/"),
        Probe::Http("outside", "http://172.20.0.3/"),
    ],
    differences: &[
        Difference {
            why: "Docker's FORWARD policy is DROP and lets into a bridge only replies (and published ports); \
                  the script's forward_accept() accepts all traffic in and out of its bridges (v4 and v6), \
                  so a neighbour that routes the subnet here opens connections to the containers",
            document: &[
                "host v4 policy filter FORWARD DROP",
                "host v4 filter FORWARD -o br-* -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "host v4 filter FORWARD -i br-* ! -o br-* -j ACCEPT",
                "host v4 filter FORWARD -i br-* -o br-* -j ACCEPT",
                "reach http outside -> http://172.20.0.3/: no",
            ],
            script: &[
                "host v* filter FORWARD -i br-front -j ACCEPT",
                "host v* filter FORWARD -o br-front -j ACCEPT",
                "host v* filter FORWARD -i br-back -j ACCEPT",
                "host v* filter FORWARD -o br-back -j ACCEPT",
                "reach http outside -> http://172.20.0.3/: front2",
            ],
        },
        Difference {
            why: "Docker isolates networks with its two-stage chains (inlined: DROP what enters by one bridge and leaves by another); \
                  the script's isolate() drops between the two bridges directly, v4 and v6",
            document: &[
                "host v4 filter FORWARD -i br-front ! -o br-front -o br-back -j DROP",
                "host v4 filter FORWARD -i br-back ! -o br-back -o br-front -j DROP",
                "host v4 filter FORWARD -i br-front ! -o br-front -o br-front -j DROP",
                "host v4 filter FORWARD -i br-back ! -o br-back -o br-back -j DROP",
            ],
            script: &[
                "host v* filter FORWARD -i br-front -o br-back -j DROP",
                "host v* filter FORWARD -i br-back -o br-front -j DROP",
            ],
        },
        LO_KEEPS_IPV6,
    ],
};

#[test]
fn document_004_isolated_networks() {
    check(&ISOLATED_NETWORKS);
}

const VXLAN_OVERLAY: Section = Section {
    fixture: "tests/documents/004-vxlan-overlay.sh",
    environment: "",
    script: "scripts/vxlan-overlay.rhai",
    params: &["bridge=br0", "overlay_netns=true", "ipv6=true"],
    servers: &[Server("c2", "0.0.0.0:80", "c2")],
    renames: &[],
    probes: &[
        Probe::Ping("c1", "10.0.0.3"),
        Probe::Ping("c2", "10.0.0.2"),
        Probe::Ping("host1", "10.0.0.3"),
        Probe::Ping("c1", "192.168.1.2"),
        Probe::Ping("host1", "192.168.1.2"),
        Probe::Ping("c1", "::1"),
        Probe::Http("c1", "http://10.0.0.3/"),
    ],
    differences: &[LO_KEEPS_IPV6, BROADCAST],
};

#[test]
fn document_004_vxlan_overlay() {
    check(&VXLAN_OVERLAY);
}

const MACVLAN: Section = Section {
    fixture: "tests/documents/004-macvlan.sh",
    environment: "",
    script: "scripts/macvlan.rhai",
    params: &[],
    servers: &[Server("c2", "0.0.0.0:80", "c2")],
    renames: &[],
    probes: &[
        Probe::Ping("c1", "192.168.100.12"),
        Probe::Ping("c2", "192.168.100.11"),
        Probe::Ping("host", "192.168.100.11"),
        Probe::Ping("c1", "::1"),
        Probe::Http("c1", "http://192.168.100.12/"),
    ],
    differences: &[LO_KEEPS_IPV6, BROADCAST],
};

#[test]
fn document_004_macvlan() {
    check(&MACVLAN);
}

const HOST_ROUTES: Section = Section {
    fixture: "tests/documents/004-host-routes.sh",
    environment: "",
    script: "scripts/host-routes.rhai",
    params: &["ipv6=true"],
    servers: &[Server("c2", "0.0.0.0:80", "")],
    renames: &[],
    probes: &[
        Probe::Ping("c1", "10.244.2.2"),
        Probe::Ping("c2", "10.244.1.2"),
        Probe::Ping("host1", "10.244.2.2"),
        Probe::Ping("c1", "192.168.1.2"),
        Probe::Ping("c1", "::1"),
        Probe::Http("c1", "http://10.244.2.2/"),
    ],
    differences: &[LO_KEEPS_IPV6, BROADCAST],
};

#[test]
fn document_004_host_routes() {
    check(&HOST_ROUTES);
}

const POD: Section = Section {
    fixture: "tests/documents/004-pod.sh",
    environment: "",
    script: "scripts/pod.rhai",
    params: &[],
    servers: &[],
    probes: &[
        Probe::Http("pod", "http://127.0.0.1:8080/"),
        Probe::Http("pod", "http://127.0.0.1:9090/"),
        Probe::Http("host", "http://10.22.0.2:8080/"),
        Probe::Http("host", "http://10.22.0.2:9090/"),
        Probe::Ping("pod", "10.22.0.1"),
        Probe::Ping("pod", "::1"),
    ],
    renames: &[Rename {
        why: "the CNI bridge plugin names the host-side veth at random",
        document: "veth????????",
        script: "veth-pod",
    }],
    differences: &[
        Difference {
            why: "the CNI bridge plugin, the pods' gateway (isGateway), turns on forwarding; the script leaves it alone",
            document: &["host sysctl net.ipv4.ip_forward = 1"],
            script: &["host sysctl net.ipv4.ip_forward = 0"],
        },
        LO_KEEPS_IPV6,
    ],
};

#[test]
fn document_004_pod() {
    check(&POD);
}

const DOCKER_MODES: Section = Section {
    fixture: "tests/documents/001-docker-modes.sh",
    environment: "bash tests/documents/lib/uplink.sh 10.0.2.15/24 10.0.2.2
                  ip -n outside route add 172.17.0.0/16 via 10.0.2.15",
    script: "scripts/docker-modes.rhai",
    params: &[],
    servers: &[
        Server("web", "0.0.0.0:80", "web"),
        Server("outside", "0.0.0.0:8000", ""),
    ],
    renames: &[],
    probes: &[
        Probe::Ping("host", "172.17.0.2"),
        Probe::Ping("web", "10.0.2.2"),
        Probe::Ping("box", "127.0.0.1"),
        Probe::Ping("box", "172.17.0.1"),
        Probe::Ping("box", "::1"),
        Probe::Http("web", "http://10.0.2.2:8000/"),
        Probe::Http("web", "http://127.0.0.1:80/"),
        Probe::Http("host", "http://172.17.0.2:80/"),
        Probe::Http("host", "http://172.17.0.1:8080/"),
        Probe::Http("host", "http://10.0.2.15:8080/"),
        Probe::Http("host", "http://127.0.0.1:8080/"),
        Probe::Http("outside", "http://10.0.2.15:8080/"),
        Probe::Http("web", "http://172.17.0.1:8080/"),
        Probe::Http("outside", "http://172.17.0.2:80/"),
        Probe::Ping("outside", "172.17.0.2"),
    ],
    differences: &[
        Difference {
            why: "Docker's FORWARD policy is DROP and lets into docker0 only replies and the published port; \
                  the script's docker::network() accepts all traffic in and out of the bridge (v4 and v6), \
                  so a neighbour that routes the subnet here reaches the container on any port",
            document: &[
                "host v4 policy filter FORWARD DROP",
                "host v4 filter FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "host v4 filter FORWARD -i docker0 ! -o docker0 -j ACCEPT",
                "host v4 filter FORWARD -i docker0 -o docker0 -j ACCEPT",
                "host v4 filter FORWARD -o docker0 -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT",
                "reach ping outside -> 172.17.0.2: no",
            ],
            script: &[
                "host v* filter FORWARD -i docker0 -j ACCEPT",
                "host v* filter FORWARD -o docker0 -j ACCEPT",
                "host v4 filter FORWARD -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j ACCEPT",
                "reach ping outside -> 172.17.0.2: yes",
            ],
        },
        Difference {
            why: "Docker's isolation chains drop what leaves docker0 for another Docker bridge (there is none here); the script has one network, nothing to isolate",
            document: &["host v4 filter FORWARD -i docker0 ! -o docker0 -o docker0 -j DROP"],
            script: &[],
        },
        Difference {
            why: "Docker DNATs the published port only for traffic not from docker0 (containers reach it through docker-proxy, \
                  and the host's 127.0.0.1 too, which the fixture does not run); plumb's publish() for all, the loopback included \
                  (docker0 routes 127.0.0.0/8 and masquerades it), as Docker without its proxy",
            document: &[
                "host v4 nat PREROUTING -m addrtype --dst-type LOCAL -i docker0 -j RETURN",
                "host v4 nat OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -i docker0 -j RETURN",
                "host v4 nat PREROUTING -m addrtype --dst-type LOCAL ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80",
                "host v4 nat OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80",
            ],
            script: &[
                "host v4 nat PREROUTING -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80",
                "host v4 nat OUTPUT -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80",
                "host v4 nat POSTROUTING -s 127.0.0.0/8 -o docker0 -j MASQUERADE",
            ],
        },
        Difference {
            why: "the host reaches a published port on 127.0.0.1 (Docker through its userland proxy, which the fixture does not run)",
            document: &["reach http host -> http://127.0.0.1:8080/: no"],
            script: &["reach http host -> http://127.0.0.1:8080/: web"],
        },
        LO_KEEPS_IPV6,
    ],
};

#[test]
fn document_001_docker_modes() {
    check(&DOCKER_MODES);
}
