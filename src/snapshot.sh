# The state a rollback must restore, one fact per line, read with the
# system's own tools (not plumb's): `plumb test` runs it before and after
# each scenario, and the test suite's snapshot() is this same file.
# Covers: named namespaces; in the host and in every named namespace the
# links (kind, master, state, mtu, alias), addresses, routes of every table,
# policy rules and permanent neighbours; the host's network sysctls that
# plumb can touch (forwarding, route_localnet, rp_filter, arp and IPv6
# settings, per interface); iptables and ip6tables: policies, rules and
# chains, empty ones included.
plumb_snapshot() {
  local ns ipn f
  for ns in $(ls /run/netns 2>/dev/null); do echo "netns $ns"; done
  for ns in host $(ls /run/netns 2>/dev/null); do
    if [ "$ns" = host ]; then ipn="ip"; else ipn="ip -n $ns"; fi
    $ipn -d -o link show 2>/dev/null | sed -E 's/^[0-9]+: //; s/ +/ /g; s/\\ / /g' |
      sed -E 's/ (link\/ether|brd) [0-9a-f:]+//g; s/ (addrgenmode|numtxqueues|numrxqueues|gso_max_size|gso_max_segs|tso_max_size|tso_max_segs|gro_max_size|gso_ipv4_max_size|gro_ipv4_max_size|parentbus|parentdev|minmtu|maxmtu|promiscuity|allmulti|inet6_addr_gen_mode) [^ ]+//g; s/ (bridge_id|designated_root|root_id|hello_timer|tcn_timer|topology_change_timer|gc_timer|fdb_n_learned) [^ ]+//g' |
      sed "s/^/$ns link: /"
    $ipn -o addr show 2>/dev/null | sed -E 's/^[0-9]+: //; s/ +/ /g; s/ valid_lft.*//; s/\\ / /g' | sed "s/^/$ns addr: /"
    for family in -4 -6; do
      $ipn $family route show table all 2>/dev/null | { grep -v '^local fe80::\|^multicast\|^fe80::/64' || true; } | sed "s/^/$ns route$family: /"
      $ipn $family rule show 2>/dev/null | sed "s/^/$ns rule$family: /"
    done
    $ipn neigh show nud permanent 2>/dev/null | sed "s/^/$ns neigh: /"
  done
  for f in /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/forwarding \
           /proc/sys/net/ipv4/conf/*/route_localnet /proc/sys/net/ipv4/conf/*/rp_filter \
           /proc/sys/net/ipv4/conf/*/proxy_arp /proc/sys/net/ipv4/conf/*/arp_ignore \
           /proc/sys/net/ipv4/conf/*/arp_announce /proc/sys/net/ipv4/conf/*/accept_local \
           /proc/sys/net/ipv6/conf/*/forwarding /proc/sys/net/ipv6/conf/*/disable_ipv6 \
           /proc/sys/net/bridge/bridge-nf-call-iptables; do
    if [ -r "$f" ]; then echo "sysctl: ${f#/proc/sys/}=$(cat "$f")"; fi
  done
  for save in iptables-save ip6tables-save; do
    if ! command -v $save >/dev/null; then continue; fi
    # iptables-nft keeps an emptied table's built-in chains: a built-in chain
    # with the default policy is no state; every other chain line is.
    { $save 2>/dev/null || true; } | { grep -E '^(\*|-A|:)' || true; } | sed -E 's/ \[[0-9]+:[0-9]+\]$//' |
      awk -v s="$save" '/^\*/ {t=$0; next} /^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT$/ {next} {print s " " t ": " $0}'
  done
  return 0
}
