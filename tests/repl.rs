//! `plumb repl` driven through a pseudo-terminal (python3's pty module), in a
//! sandbox: what the terminal shows, and what the kernel holds afterwards.

mod common;

use common::{assert_contains, sandbox, script_file};

/// Steps for tests/common/pty_session.py, as a JSON file named after the
/// test (tests run in parallel); returns its path.
fn steps(test: &str, list: &[(&str, &str)]) -> String {
    let json = serde_json::to_string(list).unwrap();
    script_file(&format!("{test}.steps.json"), &json)
        .display()
        .to_string()
}

#[test]
fn a_session_keeps_state_undoes_failures_completes_names_and_saves_a_script() {
    let prompt = ("expect", "plumb> ");
    let saved = common::script_file("saved.rhai", "");
    let save_command = format!(":save {}\r", saved.display());
    let session = steps(
        "session",
        &[
            prompt,
            ("send", "let x = 40;\r"),
            prompt,
            // A function typed over three lines: Enter continues while the brace is open.
            ("send", "fn add(a, b) {\r"),
            ("send", "    a + b\r"),
            ("send", "}\r"),
            prompt,
            ("send", "add(x, 2)\r"),
            ("expect", "=> 42"),
            ("send", "let ns = netns(\"web\");\r"),
            prompt,
            (
                "send",
                "let v = veth(\"v-web\", #{ peer: \"eth0\", netns: ns });\r",
            ),
            prompt,
            // The second address is bad: the line's first address is undone too.
            (
                "send",
                "addr(v, \"10.7.0.1/24\"); addr(v.peer, \"10.7.0.300/24\");\r",
            ),
            ("expect", r"\^ invalid address '10\.7\.0\.300/24'"),
            ("expect", r"undid the 1 change\(s\) this statement made"),
            prompt,
            ("send", "addr(v.peer, \"10.7.0.2/24\");\r"),
            prompt,
            // Tab inside a string offers the namespace that exists.
            ("send", "netns_open(\"we\t"),
            ("expect", "netns_open\\(\"web"),
            ("send", "\x03"),
            prompt,
            // :undo removes the address from the kernel.
            ("send", ":undo\r"),
            ("expect", r"undid 1 change\(s\)"),
            prompt,
            ("send", ":journal\r"),
            (
                "expect",
                r"undone +ip -n web addr add 10\.7\.0\.2/24 brd \+ dev eth0",
            ),
            prompt,
            ("send", save_command.as_str()),
            ("expect", "wrote 5 statement"),
            prompt,
            ("send", ":quit\r"),
            ("expect", r"keeps 2 change\(s\); undo with: plumb rollback"),
        ],
    );
    let out = sandbox(&format!(
        r##"
        export HOME=$(mktemp -d) saved={saved}
        python3 tests/common/pty_session.py {session} -- plumb repl
        # What the session left: the namespace and veth, no address on eth0.
        ls /run/netns | grep -x web >/dev/null || die "namespace web is missing"
        ip link show v-web >/dev/null || die "v-web is missing"
        [ -z "$(ip -n web -o -4 addr show dev eth0)" ] || die ":undo left the address"
        grep -x 'let x = 40;' $HOME/.local/state/plumb/history >/dev/null || die "no history"
        # Names, states, addresses and routes (not indexes or random MACs).
        view() {{
          for ns in host $(ls /run/netns); do
            if [ "$ns" = host ]; then ipn="ip"; else ipn="ip -n $ns"; fi
            echo "# $ns"; $ipn -br link | awk '{{sub(/@.*/, "", $1); print $1, $2}}'
            $ipn -br addr | awk '{{sub(/@.*/, "", $1); $2=""; print}}' | sed -E 's/ fe80::[^ ]+//'; $ipn route
          done
        }}
        kept=$(view)
        plumb rollback --last
        [ -z "$(ls /run/netns)" ] || die "rollback left namespaces"
        # The saved script rebuilds what the session kept.
        plumb run $saved
        [ "$kept" = "$(view)" ] || {{ diff <(echo "$kept") <(view); die "the saved script builds something else"; }}
        "##,
        saved = saved.display()
    ));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("=> 42"), "{}", out.stdout);
}

#[test]
fn piped_statements_run_without_prompts_and_rollback_on_exit_leaves_nothing() {
    let out = sandbox(
        r#"
        before=$(snapshot)
        out=$(mktemp) err=$(mktemp)
        printf '%s\n' 'let ns = netns("p1");' 'fn two() {' '  2' '}' 'print(two() * 21);' 'bridge("br-p");' \
          'veth("bad name with spaces", #{ peer: "x" });' ':show p1' \
          | plumb repl --rollback-on-exit >$out 2>$err && die "a failed statement must fail the exit status"
        cat $out $err
        grep 'plumb>' $out && die "prompt noise in piped mode"
        [ "$before" = "$(snapshot)" ] || die "--rollback-on-exit left something"
        "#,
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_contains(
        &out.stdout,
        &[
            "42",
            "invalid interface name 'bad name with spaces'",
            "undid the session's 2 change(s)",
            "lo ", // :show lists p1's links
        ],
    );
}

#[test]
fn help_load_and_rollback_meta_commands() {
    let script = script_file(
        "two-namespaces.rhai",
        "let a = netns(\"la\");\nlet b = netns(\"lb\");\nveth(a, \"x\", #{ peer: \"y\", netns: b });\n",
    );
    let out = sandbox(&format!(
        r#"
        before=$(snapshot)
        out=$(mktemp)
        printf '%s\n' ':help veth' ':load {script}' 'print(`loaded: ${{netns_list()}}`);' ':rollback' ':journal' \
          | plumb repl >$out 2>&1
        cat $out
        [ "$before" = "$(snapshot)" ] || die ":rollback left something"
        "#,
        script = script.display()
    ));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_contains(
        &out.stdout,
        &[
            "veth(name: &str, options: Map) -> Link",
            "loaded: [\"la\", \"lb\"]",
            "undid 3 change(s)",
            "3  undone     ip -n la link add x type veth peer name y netns lb",
        ],
    );
}

#[test]
fn a_killed_session_is_incomplete_and_rollback_undoes_it() {
    let out = sandbox(
        r#"
        fifo=$(mktemp -u)
        mkfifo $fifo
        plumb repl <$fifo >/dev/null 2>&1 &
        pid=$!
        exec 3>$fifo
        echo 'netns("k1"); bridge("br-k");' >&3
        for _ in $(seq 100); do [ -e /run/netns/k1 ] && ip link show br-k >/dev/null 2>&1 && break; sleep 0.05; done
        kill -9 $pid
        wait $pid || true
        plumb journal list | grep -E 'incomplete +2 ' >/dev/null || { plumb journal list; die "the killed session is not listed as incomplete"; }
        plumb rollback --last
        [ -z "$(ls /run/netns)" ] || die "k1 is left"
        ! ip link show br-k 2>/dev/null || die "br-k is left"
        "#,
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn undo_takes_back_whole_statements_and_save_leaves_them_out() {
    let prompt = ("expect", "plumb> ");
    let saved = script_file("undo-save.rhai", "");
    let save_command = format!(":save {}\r", saved.display());
    let session = steps(
        "undo-save",
        &[
            prompt,
            ("send", "let keep = netns(\"keep\");\r"),
            prompt,
            // One statement, three changes: :undo takes all three or none.
            ("send", "for i in 0..3 { netns(`loop${i}`); }\r"),
            prompt,
            ("send", "let label = \"changes nothing\";\r"),
            prompt,
            // A change the kernel refused inside try was never made: the statement stands.
            (
                "send",
                "try { veth(\"lo\", #{ peer: \"x\" }); } catch { }\r",
            ),
            prompt,
            ("send", "bridge(\"br-x\");\r"),
            prompt,
            ("send", ":undo 2\r"),
            ("expect", r"undid 4 change\(s\)"),
            prompt,
            ("send", save_command.as_str()),
            ("expect", r"wrote 3 statement\(s\)"),
            prompt,
            ("send", ":quit\r"),
            ("expect", r"keeps 1 change\(s\)"),
        ],
    );
    let out = sandbox(&format!(
        r#"
        export HOME=/run/home && mkdir -p $HOME
        python3 tests/common/pty_session.py {session} -- plumb repl
        [ "$(ls /run/netns)" = keep ] || die "namespaces left: $(ls /run/netns)"
        ! ip link show br-x 2>/dev/null || die "br-x is left"
        printf '%s\n' '// Saved from a plumb repl session.' 'let keep = netns("keep");' 'let label = "changes nothing";' \
          'try {{ veth("lo", #{{ peer: "x" }}); }} catch {{ }}' >/run/want
        diff /run/want {saved} || die "the saved script holds undone statements"
        plumb rollback --last
        plumb run {saved}
        [ "$(ls /run/netns)" = keep ] || die "the saved script builds something else"
        "#,
        saved = saved.display()
    ));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn ctrl_c_stops_the_statement_keeps_typed_ahead_lines_and_a_line_may_end_in_an_operator() {
    let prompt = ("expect", "plumb> ");
    let session = steps(
        "ctrl-c",
        &[
            prompt,
            // The output differs from the echoed input, so each expect sees the output.
            (
                "send",
                "netns(\"slow\"); print(\"sleep\" + \"ing\"); sleep(20); netns(\"never\");\r",
            ),
            ("expect", "sleeping"),
            // Typed while the statement sleeps, then Ctrl-C.
            ("send", "print(\"typed \" + \"ahead\");\r"),
            ("send", "\x03"),
            ("expect", r"\^ interrupted"),
            ("expect", r"undid the 1 change\(s\) this statement made"),
            ("expect", "typed ahead"),
            prompt,
            (
                "send",
                "print(\"run\" + \"ning\"); exec_in(host(), [\"sleep\", \"20\"])\r",
            ),
            ("expect", "running"),
            ("send", "\x03"),
            ("expect", r#"\^ exec_in\("sleep 20"\) was interrupted"#),
            prompt,
            // An operator at the end of a line continues the statement.
            ("send", "let x = 1 +\r"),
            ("send", "2;\r"),
            prompt,
            ("send", "x * 10\r"),
            ("expect", "=> 30"),
            // Handles and records as text.
            ("send", "let ns = netns(\"shown\"); [ns, host()]\r"),
            ("expect", r"=> \[netns shown, netns host\]"),
            ("send", "addrs(ns)\r"),
            ("expect", r"=> DEV +ADDR"),
            ("expect", r"lo +127\.0\.0\.1/8"),
            prompt,
            // exit(N) leaves, with N as the status; the session's changes stay.
            ("send", "exit(4)\r"),
            ("expect", r"keeps 1 change\(s\)"),
        ],
    );
    let out = sandbox(&format!(
        r#"
        export HOME=/run/home && mkdir -p $HOME
        rc=0
        python3 tests/common/pty_session.py {session} -- plumb repl || rc=$?
        [ $rc = 4 ] || die "exit(4) left the REPL with status $rc"
        [ "$(ls /run/netns)" = shown ] || die "namespaces: $(ls /run/netns)"
        "#
    ));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

/// A closed terminal (SIGHUP) or SIGTERM at the prompt ends the session as
/// Ctrl-D does: --rollback-on-exit rolls it back, and the exit status says
/// which signal it was.
#[test]
fn a_closed_terminal_or_sigterm_at_the_prompt_rolls_back_on_exit() {
    let out = sandbox(
        r#"
        for mode in hup term; do
            got=$(python3 tests/common/pty_end.py $mode)
            case $mode in hup) want="exited 129" ;; term) want="exited 143" ;; esac
            [ "$got" = "$want" ] || die "$mode: $got (wanted $want)"
            ! ip netns list | contains held || die "$mode: the namespace stayed"
            ! plumb journal list | contains "(repl)" || die "$mode: $(plumb journal list)"
            echo "$mode: rolled back"
        done
        "#,
    )
    .ok();
    assert_contains(&out.stdout, &["hup: rolled back", "term: rolled back"]);
}
