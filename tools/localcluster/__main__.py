"""Command line: python -m localcluster {build,up,down,status,env} (run with PYTHONPATH=tools)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import build, cluster


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcluster",
        description="A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, "
                    "kube-scheduler) run as local processes on 127.0.0.1, with KWOK simulating the nodes "
                    "and the pods' lifecycle. Binaries are built from Go module sources and cached in "
                    f"{build.cache_root()}/bin.")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--run-dir", type=Path, default=None,
                        help="where state, PKI, kubeconfig and logs live (default: %(default)s -> "
                             f"{cluster.default_run_dir()})")
    common.add_argument("--bin-dir", default=None,
                        help="use prebuilt binaries from this directory instead of building "
                             "(also $OVMS_CLUSTER_BIN_DIR)")
    sub.add_parser("build", parents=[common], help="build the binaries that are missing from the cache")
    p_up = sub.add_parser("up", parents=[common], help="start the cluster (or report the running one)")
    p_up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each step")
    sub.add_parser("down", parents=[common], help="stop exactly the processes 'up' started")
    sub.add_parser("status", parents=[common], help="print the cluster's state as JSON")
    sub.add_parser("env", parents=[common], help="print 'export KUBECONFIG=...' for the running cluster")
    p_si = sub.add_parser("standin", parents=[common],
                          help="the pod network namespace with the OVMS stand-in (a test double) answering for pods")
    p_si.add_argument("action", choices=["up", "down"])
    p_si.add_argument("--models", default="",
                      help="comma-separated model names the stand-in serves as AVAILABLE (up)")
    args = parser.parse_args(argv)

    if args.command == "build":
        return build.main_build(args)
    run_dir = (args.run_dir or cluster.default_run_dir()).resolve()
    if args.command == "up":
        t0 = time.monotonic()
        try:
            c = cluster.up(run_dir, bin_dir=args.bin_dir, timeout=args.timeout)
        except (build.BuildError, cluster.ClusterError) as exc:
            cluster.log(f"error: {exc}")
            return 1
        cluster.log(f"total time of 'up' (build included when one was needed): {time.monotonic() - t0:.1f} s")
        print(f"export KUBECONFIG={c.kubeconfig}")
        return 0
    if args.command == "standin":
        from . import podnet

        if args.action == "down":
            cluster.log("stopped: " + (", ".join(podnet.down(run_dir)) or "nothing"))
            return 0
        models = [m for m in args.models.split(",") if m]
        try:
            state = podnet.up(run_dir, {m: {"mode": "available"} for m in models})
        except podnet.PodnetUnavailable as exc:
            cluster.log(f"error: {exc}")
            return 1
        cluster.log(f"OVMS stand-in (a test double, not OVMS) answers for every pod of {state['pod_network']} inside "
                    f"network namespace {state['netns']}, serving {', '.join(models) or 'no models'}")
        return 0
    if args.command == "down":
        stopped = cluster.down(run_dir)
        cluster.log("stopped: " + (", ".join(stopped) if stopped else f"nothing was running in {run_dir}"))
        return 0
    if not (run_dir / "state.json").exists():
        cluster.log(f"no cluster in {run_dir}")
        return 1
    c = cluster.Cluster.load(run_dir)
    if args.command == "status":
        state = json.loads(c.state_file.read_text())
        state["running"] = {comp: c._alive(comp) for comp in c.pids}
        print(json.dumps(state, indent=2))
        return 0 if c.running() else 1
    print(f"export KUBECONFIG={c.kubeconfig}")
    return 0 if c.running() else 1


if __name__ == "__main__":
    sys.exit(main())
