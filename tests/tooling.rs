//! What surrounds the commands: shell completions and man pages from the
//! clap definition, Rhai definition files for editors, the JSON documents,
//! and the progress counter (on a terminal only).

mod common;

use std::process::Command;

use common::{assert_contains, plumb, sandbox, script_file};
use serde_json::Value;

const COMMANDS: &[&str] = &[
    "run",
    "rollback",
    "journal",
    "status",
    "graph",
    "doc",
    "repl",
    "test",
    "sandbox",
    "completions",
    "man",
];

fn output(args: &[&str]) -> String {
    let out = Command::new(plumb()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "plumb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Check a completion script's syntax with its shell (`SHELL -n`).
fn parses_in(shell: &str, script: &str) {
    let path = script_file(&format!("completion.{shell}"), script);
    let out = Command::new(shell).arg("-n").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{shell} -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish() {
    let bash = output(&["completions", "bash"]);
    let zsh = output(&["completions", "zsh"]);
    let fish = output(&["completions", "fish"]);
    assert!(zsh.starts_with("#compdef plumb"), "{zsh}");
    assert!(fish.contains("complete -c plumb"), "{fish}");
    for command in COMMANDS {
        for (shell, text) in [("bash", &bash), ("zsh", &zsh), ("fish", &fish)] {
            assert!(text.contains(command), "{shell} completion lacks {command}");
        }
    }
    parses_in("bash", &bash);
    for shell in ["zsh", "fish"] {
        if installed(shell) {
            parses_in(shell, if shell == "zsh" { &zsh } else { &fish });
        }
    }
    // Bash itself completes with it: `plumb gr<TAB>`, `plumb graph --for<TAB>`.
    let script = script_file("completion.bash", &bash);
    let complete = |words: &str| {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _plumb plumb \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        complete("plumb gr").lines().any(|l| l == "graph"),
        "{}",
        complete("plumb gr")
    );
    assert!(complete("plumb graph --for")
        .lines()
        .any(|l| l == "--format"));
    assert!(complete("plumb graph --format ''")
        .lines()
        .any(|l| l == "mermaid"));
}

#[test]
fn man_pages_render_with_every_command_and_option() {
    let page = output(&["man"]);
    assert!(page.contains(".TH plumb 1"), "{page}");
    let dir = std::env::temp_dir().join(format!("plumb-man-{}", std::process::id()));
    output(&["man", "--dir", dir.to_str().unwrap()]);
    for name in [
        "plumb",
        "plumb-graph",
        "plumb-status",
        "plumb-journal-list",
        "plumb-completions",
    ] {
        assert!(dir.join(format!("{name}.1")).is_file(), "no {name}.1");
    }
    if installed("groff") {
        let render = |path: &std::path::Path| {
            // Plain text: no bold or underline (by overstrike or escape).
            let out = Command::new("groff")
                .args(["-man", "-Tutf8", "-P-cbu"])
                .arg(path)
                .output()
                .unwrap();
            assert!(out.status.success());
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let main = render(&dir.join("plumb.1"));
        for command in COMMANDS {
            assert!(main.contains(command), "plumb.1 lacks {command}");
        }
        let graph = render(&dir.join("plumb-graph.1"));
        assert!(
            graph.contains("renderer") && graph.contains("mermaid"),
            "{graph}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn editors_get_rhai_definitions_of_the_api_and_the_stdlib() {
    let dir = std::env::temp_dir().join(format!("plumb-defs-{}", std::process::id()));
    let out = Command::new(plumb())
        .args(["doc", "--definitions"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let api = read("__static__.d.rhai");
    assert_contains(
        &api,
        &[
            "fn veth(",
            "fn bridge(",
            "fn publish(",
            "fn to_json(",
            "fn links(ns: Netns) -> array;",
        ],
    );
    assert!(
        api.contains("/// The links in `ns`"),
        "docs travel with the definitions"
    );
    let docker = read("docker.d.rhai");
    assert_contains(
        &docker,
        &[
            "module docker;\n",
            "fn network(name: ?, opts: ?) -> ?;",
            "fn run(name: ?, network: ?, opts: ?) -> ?;",
        ],
    );
    assert!(
        !docker.contains("fn check_keys"),
        "helpers are not the API: {docker}"
    );
    assert!(
        docker.contains("\n/// "),
        "the stdlib's docs travel too: {docker}"
    );
    assert_contains(&read("ipam.d.rhai"), &["module ipam;", "fn pool("]);
    assert_contains(&read("overlay.d.rhai"), &["fn attach("]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn journals_and_query_results_print_as_documented_json() {
    let script = script_file(
        "queries.rhai",
        r#"
let br = bridge("br0");
addr(br, "10.1.0.1/24");
print(to_json(addrs(host())));
print(to_json(routes(host())));
"#,
    );
    let out = sandbox(&format!(
        r#"
        plumb run {} 2>/dev/null
        plumb journal list --json
        run=$(plumb journal list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["run"])')
        echo ---
        plumb journal show "$run" --json
        "#,
        script.display()
    ))
    .ok();
    let mut lines = out.stdout.lines();
    // Every record has exactly the documented fields.
    let addrs: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let addrs = addrs.as_array().unwrap();
    let on_br0 = serde_json::json!({"dev": "br0", "addr": "10.1.0.1/24"});
    assert!(addrs.contains(&on_br0), "{addrs:?}");
    assert!(
        addrs.iter().all(|a| a.as_object().unwrap().len() == 2),
        "{addrs:?}"
    );
    let routes: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let routes = routes.as_array().unwrap();
    let connected = serde_json::json!({"dest": "10.1.0.0/24", "via": null, "dev": "br0"});
    assert!(routes.contains(&connected), "{routes:?}");
    assert!(
        routes.iter().all(|r| r.as_object().unwrap().len() == 3),
        "{routes:?}"
    );
    let rest: Vec<&str> = lines.collect();
    let split = rest.iter().position(|l| *l == "---").unwrap();
    let list: Value = serde_json::from_str(&rest[..split].join("\n")).unwrap();
    assert_eq!(list["schema"], "plumb/runs/1");
    assert_eq!(list["state_dir"], "/run/plumb");
    let run = &list["runs"][0];
    assert_eq!(
        (run["status"].as_str(), run["changes"].as_u64()),
        (Some("applied"), Some(2))
    );
    assert!(run["source"].as_str().unwrap().ends_with("queries.rhai"));
    assert!(run["started"].as_u64().unwrap() > 1_700_000_000);
    let show: Value = serde_json::from_str(&rest[split + 1..].join("\n")).unwrap();
    assert_eq!(show["schema"], "plumb/run/1");
    assert_eq!(show["run"], run["run"]);
    let entry = &show["entries"][1];
    assert_eq!(entry["state"], "applied");
    assert_eq!(entry["op"]["op"], "addr_add");
    assert_eq!(
        entry["commands"][0],
        "ip addr add 10.1.0.1/24 brd + dev br0"
    );
    assert!(
        entry["at"].as_str().unwrap().ends_with("queries.rhai:3"),
        "{entry}"
    );
}

#[test]
fn progress_counts_on_a_terminal_and_stays_out_of_pipes() {
    let script = script_file(
        "slow.rhai",
        "for i in 0..30 { bridge(`b${i}`, #{}); sleep(0.04); }\nprint(\"built\");\n",
    );
    let steps = script_file(
        "progress-steps.json",
        r#"[["expect", "built"], ["expect", "finished"]]"#,
    );
    let out = sandbox(&format!(
        r#"
        # A person at a terminal (CI unset), then a CI job on a terminal.
        env -u CI python3 tests/common/pty_session.py {steps} -- bash -c 'plumb run {s}; plumb rollback --last; echo finished'
        echo ---
        CI=true python3 tests/common/pty_session.py {steps} -- bash -c 'plumb run {s}; plumb rollback --last; echo finished'
        echo ---
        plumb run {s} 2>&1 | cat -A
        plumb rollback --last 2>&1 | cat -A
        "#,
        steps = steps.display(),
        s = script.display()
    ))
    .ok();
    let parts: Vec<&str> = out.stdout.split("---\n").collect();
    let [tty, ci, piped] = parts[..] else {
        panic!("{}", out.stdout)
    };
    assert_contains(
        tty,
        &["changes made so far", "of 30 changes undone", "finished"],
    );
    assert!(!ci.contains("so far") && !ci.contains("undone"), "{ci}");
    assert_contains(ci, &["applied 30 change(s)", "finished"]);
    assert!(
        !piped.contains("so far") && !piped.contains("undone") && !piped.contains("^M"),
        "{piped}"
    );
    assert_contains(piped, &["applied 30 change(s)", "rolled back run"]);
}
