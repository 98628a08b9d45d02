"""A real Kubernetes control plane on loopback, for the ``cluster`` tests and ``bench/bench_cluster.py``.

``ControlPlane(bin_dir, workdir).start()`` runs, each as a child process with its log in ``workdir``:

* etcd (client and peer on free 127.0.0.1 ports, no fsync: the data is thrown away);
* kube-apiserver with TLS from a CA made here (``cryptography``), client-certificate authentication
  (the admin certificate has ``O=system:masters``), ``--authorization-mode=Node,RBAC``, the default
  admission plugins (PodSecurity and ValidatingAdmissionPolicy included) and a service-account
  signing key;
* kube-controller-manager (every controller, one service account per controller) and kube-scheduler;
* kwok, which plays the kubelet for nodes annotated ``kwok.x-k8s.io/node=fake``, with the stages in
  ``tests/cluster/kwok`` (copied from kwok v0.8.0): nodes become Ready, pods Running and Ready.

Two fake nodes are registered: ``gpu-node-h100`` (8 ``nvidia.com/gpu``, labelled and tainted as the
example cluster policy's H100 entry expects) and ``cpu-node``.

Every wait has a deadline. A component that exits, or is not ready by its deadline, raises
:class:`ClusterError` naming the component, its exit code and the last lines of its log.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent.parent
BUILD = ROOT / "tools" / "cluster" / "build"
KWOK_STAGES = Path(__file__).resolve().parent / "kwok"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")
BIN_ENV = "SIGNOFF_CLUSTER_BIN"
SERVICE_CIDR = "10.96.0.0/16"
GPU_NODE = "gpu-node-h100"
CPU_NODE = "cpu-node"
GPU_PRODUCT_LABEL = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
START_DEADLINE_S = 120.0
"""Generous for a busy 2-core machine; the control plane is usually up in under 10 s."""


class ClusterError(RuntimeError):
    """The control plane could not be started or used; the message names the component and its log."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def find_bin_dir() -> Path:
    """The folder of the built binaries: ``$SIGNOFF_CLUSTER_BIN`` (the Makefile exports it), else what
    ``tools/cluster/build --print-bin`` names. Raises :class:`ClusterError` when a binary is missing."""
    env = os.environ.get(BIN_ENV)
    if env:
        path = Path(env)
    else:
        try:
            out = subprocess.run(
                [str(BUILD), "--print-bin"], check=True, capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ClusterError(f"tools/cluster/build --print-bin failed: {exc}") from exc
        path = Path(out.stdout.strip())
    check_binaries(path)
    return path


def check_binaries(bin_dir: Path) -> None:
    """Raise :class:`ClusterError` naming every control-plane binary missing from ``bin_dir``."""
    missing = [b for b in BINARIES if not os.access(bin_dir / b, os.X_OK)]
    if missing:
        raise ClusterError(
            f"missing control-plane binaries in {bin_dir}: {', '.join(missing)}; "
            "build them with 'make cluster-tools' (tools/cluster/build)"
        )


# ---------------------------------------------------------------------------------------------------
# certificates


@dataclass(frozen=True)
class _KeyPair:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        crt, key = folder / f"{name}.crt", folder / f"{name}.key"
        crt.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        key.chmod(0o600)
        return crt, key


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _issue(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    ca: _KeyPair | None,
    *,
    is_ca: bool = False,
    sans: Sequence[x509.GeneralName] = (),
    client: bool = False,
) -> _KeyPair:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject if ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usage = (
            x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH if client else x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
        )
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return _KeyPair(builder.sign(ca.key if ca else key, hashes.SHA256()), key)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


# ---------------------------------------------------------------------------------------------------
# processes


@dataclass
class Component:
    """One control-plane process and its log file."""

    name: str
    cmd: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, env: Mapping[str, str]) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(env)
            )

    def check(self) -> None:
        """Raise :class:`ClusterError` when the process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise ClusterError(
                f"{self.name} exited with code {self.proc.returncode}; "
                f"last lines of {self.log_path}:\n{_tail(self.log_path)}"
            )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


class ControlPlane:
    """etcd + kube-apiserver + controller-manager + scheduler + kwok on loopback (see module doc).

    ``ports`` may fix ``etcd``, ``etcd-peer`` or ``kube-apiserver`` ports (the bad-input tests use it);
    ``extra_args`` appends flags to one component's command line.
    """

    def __init__(
        self,
        bin_dir: Path,
        workdir: Path,
        *,
        ports: Mapping[str, int] | None = None,
        extra_args: Mapping[str, Sequence[str]] | None = None,
        deadline_s: float = START_DEADLINE_S,
    ) -> None:
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.deadline_s = deadline_s
        self._ports = dict(ports or {})
        self._extra = {k: list(v) for k, v in (extra_args or {}).items()}
        self.components: list[Component] = []
        self.api_port = 0
        self.kubeconfig = workdir / "kubeconfig"
        self.pki = workdir / "pki"
        self.start_seconds: dict[str, float] = {}
        self._ssl: ssl.SSLContext | None = None

    # -- public -------------------------------------------------------------------------------------

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        """Start every component and wait until the nodes are Ready; on error stop what started."""
        check_binaries(self.bin_dir)
        started = time.monotonic()
        try:
            self._start(started)
        except BaseException:
            self.stop()
            raise
        self.start_seconds["total"] = time.monotonic() - started

    def stop(self) -> None:
        """Stop every component, last started first."""
        for component in reversed(self.components):
            component.stop()

    def check(self) -> None:
        """Raise :class:`ClusterError` if any component has exited."""
        for component in self.components:
            component.check()

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120.0,
        as_user: str | None = None,
        as_groups: Sequence[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl against this cluster; ``check`` raises with its stderr on failure."""
        cmd = [str(self.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig)]
        if as_user:
            cmd += ["--as", as_user, *(f"--as-group={g}" for g in as_groups)]
        cmd += list(args)
        proc = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, env=self._env()
        )
        if check and proc.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> tuple[int, dict[str, Any]]:
        """One HTTPS request as the admin; returns (status, decoded JSON body)."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context()) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw = err.read()
            status = err.code
        try:
            decoded = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            decoded = {"raw": raw.decode(errors="replace")}
        return status, decoded

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
            ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
            self._ssl = ctx
        return self._ssl

    def wait_for(self, what: str, probe: Callable[[], bool], *, deadline_s: float = 60.0) -> None:
        """Poll ``probe`` until true; raise :class:`ClusterError` naming ``what`` past the deadline or
        when a component exits meanwhile."""
        end = time.monotonic() + deadline_s
        while True:
            self.check()
            with contextlib.suppress(OSError, ssl.SSLError, urllib.error.URLError, ClusterError):
                if probe():
                    return
            if time.monotonic() > end:
                raise ClusterError(f"timed out after {deadline_s:.0f} s waiting for {what}")
            time.sleep(0.2)

    # -- start-up -----------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        # No proxy settings: the components talk to each other and to webhooks on this machine only,
        # and an HTTPS proxy of the machine's would stand between the API server and a webhook
        # Service (its certificate is not the webhook's).
        proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE") and k.lower() not in proxies}
        env["HOME"] = str(self.workdir)  # kubectl's cache and kwok's default config stay in here
        return env

    def _port(self, name: str) -> int:
        return self._ports.get(name) or _free_port()

    def _launch(self, name: str, cmd: list[str]) -> Component:
        component = Component(name, [*cmd, *self._extra.get(name, [])], self.workdir / f"{name}.log")
        self.components.append(component)
        component.start(self._env())
        return component

    def _wait_ready(self, component: Component, probe: Callable[[], bool], started: float) -> None:
        end = started + self.deadline_s
        while True:
            component.check()
            with contextlib.suppress(OSError, ssl.SSLError, urllib.error.URLError, ValueError):
                if probe():
                    self.start_seconds[component.name] = time.monotonic() - started
                    return
            if time.monotonic() > end:
                raise ClusterError(
                    f"{component.name} was not ready after {self.deadline_s:.0f} s; "
                    f"last lines of {component.log_path}:\n{_tail(component.log_path)}"
                )
            time.sleep(0.1)

    def _certs(self) -> dict[str, Path]:
        self.pki.mkdir(parents=True, exist_ok=True)
        ca = _issue(_name("signoff-test-ca"), _key(), None, is_ca=True)
        first_service_ip = next(ipaddress.ip_network(SERVICE_CIDR).hosts())
        sans: list[x509.GeneralName] = [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(first_service_ip),
            *(x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default.svc")),
        ]
        serving = _issue(_name("kube-apiserver"), _key(), ca, sans=sans)
        admin = _issue(_name("signoff-test-admin", "system:masters"), _key(), ca, client=True)
        paths: dict[str, Path] = {}
        ca.write(self.pki, "ca")
        paths["ca"] = self.pki / "ca.crt"
        paths["serving.crt"], paths["serving.key"] = serving.write(self.pki, "serving")
        paths["admin.crt"], paths["admin.key"] = admin.write(self.pki, "admin")
        sa = _key()
        paths["sa.key"] = self.pki / "sa.key"
        paths["sa.key"].write_bytes(
            sa.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        paths["sa.pub"] = self.pki / "sa.pub"
        paths["sa.pub"].write_bytes(
            sa.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return paths

    def _write_kubeconfig(self, paths: Mapping[str, Path]) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "test",
                    "cluster": {"server": self.server, "certificate-authority": str(paths["ca"])},
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate": str(paths["admin.crt"]),
                        "client-key": str(paths["admin.key"]),
                    },
                }
            ],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
            "current-context": "test",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.kubeconfig.chmod(0o600)

    def _https_ok(self, path: str) -> bool:
        status, _ = self.request("GET", path, timeout=5)
        return status == 200

    def _start(self, started: float) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        paths = self._certs()
        b = self.bin_dir

        etcd_port, peer_port = self._port("etcd"), self._port("etcd-peer")
        etcd_url, peer_url = f"http://127.0.0.1:{etcd_port}", f"http://127.0.0.1:{peer_port}"
        etcd = self._launch(
            "etcd",
            [
                str(b / "etcd"),
                "--name=test",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=test={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

        def etcd_ok() -> bool:
            with urllib.request.urlopen(etcd_url + "/health", timeout=2) as resp:
                return bool(json.loads(resp.read()).get("health") == "true")

        self._wait_ready(etcd, etcd_ok, started)

        self.api_port = self._port("kube-apiserver")
        apiserver = self._launch(
            "kube-apiserver",
            [
                str(b / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--cert-dir={self.pki}",
                f"--tls-cert-file={paths['serving.crt']}",
                f"--tls-private-key-file={paths['serving.key']}",
                f"--client-ca-file={paths['ca']}",
                "--authorization-mode=Node,RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={paths['sa.pub']}",
                f"--service-account-signing-key-file={paths['sa.key']}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--profiling=false",
                "--v=1",
            ],
        )
        self._write_kubeconfig(paths)
        self._wait_ready(apiserver, lambda: self._https_ok("/readyz"), started)

        self._launch(
            "kube-controller-manager",
            [
                str(b / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={_free_port()}",
                "--controllers=*",
                "--use-service-account-credentials",
                f"--root-ca-file={paths['ca']}",
                f"--service-account-private-key-file={paths['sa.key']}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--leader-elect=false",
                "--v=1",
            ],
        )
        self._launch(
            "kube-scheduler",
            [
                str(b / "kube-scheduler"),
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={_free_port()}",
                "--leader-elect=false",
                "--v=1",
            ],
        )
        stages = sorted(KWOK_STAGES.glob("*.yaml"))
        kwok = self._launch(
            "kwok",
            [
                str(b / "kwok"),
                f"--kubeconfig={self.kubeconfig}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--server-address=127.0.0.1:{_free_port()}",
                "--node-ip=127.0.0.1",
                *(f"--config={s}" for s in stages),
            ],
        )
        self._register_nodes()
        self._wait_ready(kwok, self._nodes_ready, started)
        # pods can only be created once the controller-manager gave "default" its service account
        self._wait_ready(self.components[2], self._default_sa_exists, started)

    def _register_nodes(self) -> None:
        for node in fake_nodes():
            status, body = self.request("POST", "/api/v1/nodes", node)
            if status not in (201, 409):
                raise ClusterError(f"registering node {node['metadata']['name']} failed ({status}): {body}")

    def _nodes_ready(self) -> bool:
        status, body = self.request("GET", "/api/v1/nodes", timeout=5)
        if status != 200:
            return False
        ready = {
            n["metadata"]["name"]
            for n in body.get("items", [])
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
        }
        return {GPU_NODE, CPU_NODE} <= ready

    def _default_sa_exists(self) -> bool:
        status, _ = self.request("GET", "/api/v1/namespaces/default/serviceaccounts/default", timeout=5)
        return status == 200


def fake_nodes() -> list[dict[str, Any]]:
    """The two kwok nodes: an 8-GPU H100 node labelled and tainted as the example cluster policy's H100
    entry selects and tolerates, and a CPU node."""

    def node(name: str, labels: dict[str, str], capacity: dict[str, str], taints: list[dict[str, str]]):
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                    **labels,
                },
            },
            "spec": {"taints": taints},
            "status": {"capacity": capacity, "allocatable": capacity},
        }

    base = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    return [
        node(
            GPU_NODE,
            {**GPU_PRODUCT_LABEL, "nvidia.com/gpu.present": "true"},
            {**base, "nvidia.com/gpu": "8"},
            [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}],
        ),
        node(CPU_NODE, {}, base, []),
    ]


@contextlib.contextmanager
def running(bin_dir: Path, workdir: Path, **kwargs: Any) -> Iterator[ControlPlane]:
    """``with running(bin_dir, workdir) as cp:`` start, yield, always stop."""
    cp = ControlPlane(bin_dir, workdir, **kwargs)
    cp.start()
    try:
        yield cp
    finally:
        cp.stop()


def remove_logs(workdir: Path) -> None:
    """Delete a control plane's folder (kept when a test failed: its logs are the evidence)."""
    shutil.rmtree(workdir, ignore_errors=True)
