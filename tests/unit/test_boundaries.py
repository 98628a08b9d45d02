"""Each outside system is reached from exactly one module (STYLE.md: one adapter per system).

Scans the source with ``ast`` (no imports executed), so the rule holds for imports inside
functions too, where the heavy ones are meant to live.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("contracts", "gates", "components", "pipelines")

# outside system -> the modules allowed to import it
ALLOWED = {
    "mlflow": {
        "components.mlflow_registry",
        # the demo's stand-in for the ML team's own training code (user code, not the adapter)
        "pipelines.demo_training",
    },
    "kubernetes": {"components.kube._client"},
    "hera": {"components.hera_templates", "pipelines.argo_workflow"},
    "kfp": {
        "components.kfp_components",
        "pipelines.kfp_pipeline",
    },
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _modules() -> list[tuple[str, Path]]:
    out = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out.append((".".join(parts), path))
    return out


@pytest.mark.parametrize("system", sorted(ALLOWED))
def test_one_module_per_outside_system(system: str) -> None:
    importers = {name for name, path in _modules() if system in _imports(path)}
    unexpected = importers - ALLOWED[system]
    assert not unexpected, f"{system} is imported by {sorted(unexpected)}; only {sorted(ALLOWED[system])} may"


HTTP_CLIENT = {"http.client", "urllib.request", "socket"}
"""What sends HTTP requests from the standard library: only :mod:`components.http_client` imports it."""


def _module_names(path: Path) -> set[str]:
    """Every module an import names, in full (``http.client``, not ``http``), and its parents."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            parts = name.split(".")
            found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return found


def test_http_requests_go_out_from_the_http_client_only() -> None:
    importers = {name: sorted(_module_names(path) & HTTP_CLIENT) for name, path in _modules()}
    offenders = {
        name: found for name, found in importers.items() if found and name != "components.http_client"
    }
    assert not offenders, f"send HTTP through components.http_client, but: {offenders}"
    assert importers["components.http_client"], (
        "the HTTP client module no longer imports the standard library's"
    )


def test_contracts_and_gates_do_no_io_imports() -> None:
    io_modules = {"requests", "urllib", "http", "socket", "subprocess", "mlflow", "kfp", "hera", "kubernetes"}
    offenders = {
        name: sorted(_imports(path) & io_modules)
        for name, path in _modules()
        if name.split(".")[0] in {"contracts", "gates"} and _imports(path) & io_modules
    }
    assert not offenders, f"contracts/gates must stay pure, but: {offenders}"


def test_gates_read_no_clock_and_no_files() -> None:
    """Gates take ``now`` and their inputs as arguments: no clock reads, no file reads inside."""
    banned = {
        "now",
        "utcnow",
        "today",
        "time",
        "monotonic",
        "perf_counter",
        "open",
        "read_text",
        "read_bytes",
    }
    offenders = []
    for name, path in _modules():
        if not name.startswith("gates"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                fn = node.func
                called = (
                    fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
                )
                if called in banned:
                    offenders.append(f"{name}:{node.lineno} calls {called}()")
    assert not offenders, "gates must be pure: " + "; ".join(offenders)


LAZY_FIRST_PARTY = {
    "components.kfp_components",
    # pydantic and the models (~150 ms of start-up): `signoff contract check` imports the loader only
    # for the documents its pydantic-free fast path (contracts._fastcheck) leaves to the models; the
    # loader imports a kind's models (and pydantic's error wording) only when it reads that kind; and
    # `signoff verify` imports the signing models only for what gates._plain leaves to them
    "contracts.loader",
    "contracts._validate",
    "contracts.cluster",
    "contracts.markdown",
    "contracts.trust",
    "contracts.workload",
    "gates.signing",
    # the MLflow adapter (with the prober and http.client, ~100 ms): `signoff render` imports it only
    # to look a version up in the registry when --storage-uri and --model-digest do not say, and the
    # offline `signoff check ...` only to keep a signed verdict in MLflow
    "components.mlflow_registry",
    # cryptography and the trust models (~100 ms): `signoff keys --help` and an unsigned `signoff
    # check` start without them; the admission webhook server, imported only by `admission serve`
    "components.keys",
    "components.admission_server",
}
"""First-party modules that import a heavy library at their top: the only ones imported in a function."""


def test_no_first_party_import_inside_a_function_unless_it_keeps_a_heavy_library_lazy() -> None:
    """A function-level import of our own code hides the module's real dependencies (and cycles)."""
    offenders = []
    for name, path in _modules():
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                elif isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                else:
                    continue
                if targets[0].split(".")[0] not in PACKAGES or set(targets) & LAZY_FIRST_PARTY:
                    continue
                offenders.append(f"{name}:{node.lineno} imports {targets[0]}")
    assert not offenders, "import these at the module's top: " + "; ".join(offenders)
