"""Pinned versions of the local control plane's components (one place to change them)."""

KUBERNETES_VERSION = "v1.35.4"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"

# The commands built from k8s.io/kubernetes. kubectl is not needed by the cluster itself; it is built
# so that every machine has one matching the API server (benchmarks and humans use it).
KUBERNETES_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


def staging_version(kubernetes_version: str = KUBERNETES_VERSION) -> str:
    """k8s.io/kubernetes v1.X.Y publishes its staging modules (k8s.io/api, ...) as v0.X.Y."""
    major, minor, patch = kubernetes_version.lstrip("v").split(".")
    if major != "1":
        raise ValueError(f"unexpected Kubernetes version {kubernetes_version!r}")
    return f"v0.{minor}.{patch}"
