#!/usr/bin/env bash
# Document 004 (容器网络技术栈), K8S网络: a pod. kubelet creates the pause
# container, whose network mode is none, and has the CNI plugin named by its
# configuration (`type`) add the pause container's namespace to the network
# (ExecPluginWithResult with ADD); the pod's own containers join that
# namespace (container mode). Here the real CNI bridge plugin
# (containernetworking-plugins, /usr/lib/cni) is called the way kubelet calls
# it, as root. Runs in a sandbox: `plumb sandbox -- bash THIS`.
#
# Substitutions and choices:
# - the pause container is namespace `pod`, as Docker leaves a none-mode
#   container (lib/container.sh);
# - the document shows no CNI configuration; this is the usual one for the
#   bridge plugin: bridge cni0 as the pods' gateway, host-local addresses
#   from the script's subnet 10.22.0.0/16 (kept under /run, inside the
#   sandbox) and a default route;
# - the pod's two containers are two processes in the namespace, as in the
#   script: "app" answering on port 8080 and "sidecar" on 127.0.0.1:9090.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")

bash "$here/lib/container.sh" pod

CNI_COMMAND=ADD CNI_CONTAINERID=pod CNI_NETNS=/run/netns/pod CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
    /usr/lib/cni/bridge <<'CONF'
{
    "cniVersion": "0.4.0",
    "name": "pod-network",
    "type": "bridge",
    "bridge": "cni0",
    "isGateway": true,
    "ipam": {
        "type": "host-local",
        "subnet": "10.22.0.0/16",
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "/run/cni-ipam"
    }
}
CONF

ready=$(mktemp -d)
ip netns exec pod python3 "$here/lib/serve.py" 0.0.0.0:8080 app "$ready/app" >/dev/null 2>&1 &
ip netns exec pod python3 "$here/lib/serve.py" 127.0.0.1:9090 sidecar "$ready/sidecar" >/dev/null 2>&1 &
for _ in $(seq 100); do [ -e "$ready/app" ] && [ -e "$ready/sidecar" ] && break; sleep 0.05; done
