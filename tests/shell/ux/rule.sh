# rule(): a spec quoted as a shell quotes it, or a list of words, reaches
# iptables word for word; rollback removes the rules even when they carry a
# comment of their own; a rule iptables rejects is an error at the rule()
# call with iptables' reason, and nothing is left.
before=$(snapshot)
cat >/run/rules.rhai <<'R'
rule("filter", "INPUT", "-j LOG --log-prefix \"DROP: \"");
rule("filter", "INPUT", "-p tcp --dport 99 -m comment --comment 'hello world' -j ACCEPT");
rule("filter", "INPUT", ["-m", "comment", "--comment", "say \"hi\" \\o/", "-j", "ACCEPT"]);
R
plumb run /run/rules.rhai
rules=$(iptables -S INPUT)
echo "$rules"
contains '--log-prefix "DROP: "' <<<"$rules" || die "the quoted log prefix was not kept"
contains '--comment "hello world"' <<<"$rules" || die "the single-quoted comment was not kept"
contains '--comment "say \\"hi\\" \\\\o/"' <<<"$rules" || die "the listed words were not kept"
plumb rollback --last
[ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(snapshot); die "rollback left rules"; }

printf 'netns("r1");\nrule("filter", "INPUT", "-j NOSUCHTARGET");\nnetns("r2");\n' >/run/bad-rule.rhai
if plumb run /run/bad-rule.rhai 2>/run/bad-rule.err; then die "a rejected rule must fail the run"; fi
cat /run/bad-rule.err
grep -F "/run/bad-rule.rhai:2:1: rule(): firewall: iptables rejects \`-t filter -A INPUT -j NOSUCHTARGET\`: " /run/bad-rule.err >/dev/null || die "not reported at the rule() call"
grep -F "NOSUCHTARGET' does not exist" /run/bad-rule.err >/dev/null || die "iptables' reason is missing"
[ "$before" = "$(snapshot)" ] || die "the failed run left something"
echo ok
