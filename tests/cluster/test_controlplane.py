"""The control plane itself: it comes up with Ready fake nodes, and bad input fails fast and clearly.

Bad input: a port already in use, a missing binary, a component that crashes on start (a bad flag).
Each must raise ``ClusterError`` naming the component and quoting its log, well before the start
deadline, and leave no process behind.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest
from _controlplane import CPU_NODE, GPU_NODE, ClusterError, ControlPlane

pytestmark = pytest.mark.cluster


def test_nodes_are_ready_and_gpu_node_offers_eight_gpus(cluster: ControlPlane) -> None:
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    assert set(by_name) == {GPU_NODE, CPU_NODE}
    gpu = by_name[GPU_NODE]
    assert gpu["status"]["allocatable"]["nvidia.com/gpu"] == "8"
    assert gpu["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    for node in nodes:
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", node["metadata"]["name"]


def _pinned(module: str) -> str:
    go_mod = (Path(__file__).resolve().parents[2] / "tools" / "cluster" / "go.mod").read_text()
    return re.search(rf"^\s+{re.escape(module)} (v\S+)", go_mod, re.M).group(1)  # type: ignore[union-attr]


def test_kubectl_and_server_are_the_pinned_version(cluster: ControlPlane) -> None:
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    pinned = _pinned("k8s.io/kubernetes")
    assert version["clientVersion"]["gitVersion"] == pinned
    assert version["serverVersion"]["gitVersion"] == pinned
    assert cluster.start_seconds["total"] < 120


def _fails_fast(cp: ControlPlane, *fragments: str) -> str:
    started = time.monotonic()
    with pytest.raises(ClusterError) as info:
        cp.start()
    elapsed = time.monotonic() - started
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert elapsed < 60, f"took {elapsed:.0f} s to fail"
    assert all(c.proc is None or c.proc.poll() is not None for c in cp.components), "left a process running"
    return message


def test_port_in_use_names_etcd_and_its_log(cluster_bin: Path, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cp = ControlPlane(cluster_bin, tmp_path, ports={"etcd": port})
        _fails_fast(cp, "etcd exited", "address already in use", "etcd.log")


def test_apiserver_port_in_use(cluster_bin: Path, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cp = ControlPlane(cluster_bin, tmp_path, ports={"kube-apiserver": port})
        _fails_fast(cp, "kube-apiserver exited", "address already in use")


def test_missing_binary_names_it_and_the_build_command(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    cp = ControlPlane(empty, tmp_path / "work")
    message = _fails_fast(cp, "kube-apiserver", "kwok", "make cluster-tools")
    assert cp.components == []
    assert "etcd" in message


def test_crashing_component_names_it_and_quotes_its_log(cluster_bin: Path, tmp_path: Path) -> None:
    cp = ControlPlane(cluster_bin, tmp_path, extra_args={"kube-apiserver": ["--no-such-flag"]})
    _fails_fast(cp, "kube-apiserver exited with code", "unknown flag: --no-such-flag", "kube-apiserver.log")


def test_component_that_never_gets_ready_hits_the_deadline(cluster_bin: Path, tmp_path: Path) -> None:
    # kwok runs but manages no node (its selector matches none), so the nodes never get Ready; the
    # start gives up at its deadline and names kwok. (Timing-independent: whatever the load, the
    # components before it get ready well within 45 s, and kwok never does.)
    cp = ControlPlane(
        cluster_bin,
        tmp_path,
        deadline_s=45,
        extra_args={"kwok": ["--manage-nodes-with-annotation-selector=signoff.dev/no-such=node"]},
    )
    _fails_fast(cp, "kwok was not ready after 45 s", "last lines of", "kwok.log")
