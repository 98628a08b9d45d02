"""The Pod Security Standards' "restricted" profile (which includes "baseline"), checked on a pod spec.

What the PodSecurity admission controller would refuse in a namespace labelled
``pod-security.kubernetes.io/enforce: restricted``, checked before the manifests reach a cluster:
the platform gate (:mod:`gates.platform`) signs the result as ``pod-security.restricted``, and the
cluster tier proves the same objects are admitted by a real API server.
"""

from __future__ import annotations

from typing import Any

from gates.render import containers

__all__ = ["restricted_violations"]

_RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


def restricted_violations(spec: dict[str, Any], meta: dict[str, Any] | None = None) -> list[str]:
    """What in one pod spec the Pod Security "restricted" profile would refuse (empty: admitted).

    Follows the Pod Security Standards (baseline + restricted) as the PodSecurity admission
    controller applies them, for every container including init and ephemeral containers, and the
    pod's AppArmor annotations when ``meta`` (the pod metadata) is given.
    """
    bad: list[str] = []
    for key, value in ((meta or {}).get("annotations") or {}).items():
        if (
            key.startswith("container.apparmor.security.beta.kubernetes.io/")
            and value not in ("runtime/default",)
            and not str(value).startswith("localhost/")
        ):
            bad.append(f"annotation {key}={value} (AppArmor must be runtime/default or localhost/*)")
    psc = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            bad.append(f"{field} is true")
    if spec.get("hostUsers") is False:
        pass  # user namespaces are allowed
    for vol in spec.get("volumes") or []:
        kinds = [k for k in vol if k != "name"]
        if any(k not in _RESTRICTED_VOLUMES for k in kinds):
            bad.append(
                f"volume {vol.get('name')!r} is of type {', '.join(kinds)} (restricted allows "
                f"{', '.join(sorted(_RESTRICTED_VOLUMES))})"
            )
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in _SAFE_SYSCTLS:
            bad.append(f"sysctl {sysctl.get('name')!r} is not a safe sysctl")
    pod_nonroot = psc.get("runAsNonRoot")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if psc.get("runAsUser") == 0:
        bad.append("securityContext.runAsUser is 0")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        bad.append(f"securityContext.seccompProfile.type is {pod_seccomp}")
    if (psc.get("seLinuxOptions") or {}).get("type", "") not in _SELINUX_TYPES:
        bad.append("securityContext.seLinuxOptions.type is not allowed")
    if (psc.get("appArmorProfile") or {}).get("type") == "Unconfined":
        bad.append("securityContext.appArmorProfile.type is Unconfined")
    for where, c in containers(spec):
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            bad.append(f"{where}: privileged is true")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{where}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            bad.append(f"{where}: capabilities.drop does not include ALL")
        added = [a for a in caps.get("add") or [] if a != "NET_BIND_SERVICE"]
        if added:
            bad.append(f"{where}: capabilities.add has {', '.join(added)} (only NET_BIND_SERVICE is allowed)")
        nonroot = sc.get("runAsNonRoot", pod_nonroot)
        if nonroot is not True:
            bad.append(f"{where}: runAsNonRoot is not true (in the container or the pod)")
        if sc.get("runAsUser") == 0:
            bad.append(f"{where}: runAsUser is 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            bad.append(
                f"{where}: seccompProfile is {seccomp or 'unset'} (RuntimeDefault or Localhost required)"
            )
        if sc.get("procMount", "Default") != "Default":
            bad.append(f"{where}: procMount is {sc.get('procMount')}")
        if (sc.get("seLinuxOptions") or {}).get("type", "") not in _SELINUX_TYPES:
            bad.append(f"{where}: seLinuxOptions.type is not allowed")
        if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
            bad.append(f"{where}: appArmorProfile.type is Unconfined")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                bad.append(f"{where}: hostPort {port['hostPort']} is set")
    return bad
