# Call plumb as a runtime calls a CNI plugin: env + config on stdin.
# cni VERB CONTAINER NETNS [IFNAME] < CONFIG; prints stdout, exit code as the plugin's.
cni() {
  CNI_COMMAND=$1 CNI_CONTAINERID=${2:-} CNI_NETNS=${3:-} CNI_IFNAME=${4:-eth0} \
    CNI_PATH=/usr/lib/cni CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=${2:-}" plumb
}
# conf SUBNET [EXTRA-JSON]: the bridge network's config.
conf() {
  local extra=${2:-'{}'}
  jq -nc --arg s "$1" --arg script "$PWD/scripts/cni/bridge.rhai" --argjson extra "$extra" \
    '{cniVersion: "1.0.0", name: "plumbnet", type: "plumb", script: $script,
      params: {subnet: $s, bridge: "plumb-cni0"}} + $extra'
}
