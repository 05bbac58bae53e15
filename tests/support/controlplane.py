"""A real Kubernetes control plane for tests, envtest-style.

Runs etcd + kube-apiserver (and on demand kube-controller-manager, kube-scheduler and
kwok with fake Nodes) as local processes on free loopback ports, with a throw-away PKI.
The binaries come from ``tests/controlplane/build.sh`` (built from the Kubernetes Go
modules into ``.cache/k8s/bin``); etcd is taken from ``$ETCD``, ``.cache/k8s/bin`` or PATH.

Typical use::

    cp = ControlPlane()
    try:
        cp.start()                       # etcd + kube-apiserver, waits for /readyz
        cp.start_controllers()           # controller-manager + scheduler
        cp.start_kwok(nodes=1)           # kwok + one fake Node: pods become Running
        cp.apply(cp.crd_dir("gateway-api"))
        api = cp.client()                # kubernetes.client.ApiClient as admin
        sa_cfg = cp.serviceaccount_kubeconfig("ns", "my-sa")
    finally:
        cp.stop()                        # also registered with atexit

Every process logs to ``<tmpdir>/logs/<name>.log``; on a start-up failure the tail of
the relevant logs is included in the raised :class:`ControlPlaneError`.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "tests" / "controlplane" / "build.sh"
K8S_CACHE = Path(os.environ.get("K8S_CACHE", REPO_ROOT / ".cache" / "k8s"))
BIN_DIR = K8S_CACHE / "bin"
CRD_DIR = K8S_CACHE / "crds"
CONTROL_PLANE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")

SERVICE_CIDR = "10.0.0.0/24"
SERVICE_IP = "10.0.0.1"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"


class ControlPlaneError(RuntimeError):
    """The control plane (or one of its processes) failed to start or respond."""


# --------------------------------------------------------------------------------------
# helpers


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the usual small race applies)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary(name: str) -> str | None:
    env = os.environ.get(name.upper().replace("-", "_"))
    candidates = [env] if env else []
    candidates += [
        str(BIN_DIR / name),
        str(REPO_ROOT / ".tools" / "bin" / name),
        str(REPO_ROOT / ".cache" / "bin" / name),
    ]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return shutil.which(name)


def binaries_missing() -> list[str]:
    return [b for b in CONTROL_PLANE_BINARIES if not (BIN_DIR / b).is_file()]


def build_if_missing(
    only: Sequence[str] | None = None, timeout: float = 4 * 3600, force_assets: bool = False
) -> None:
    """Run tests/controlplane/build.sh when a control-plane binary or the CRDs are missing.

    The first build on a 2-core machine takes tens of minutes (see README.md); later
    calls return immediately.
    """
    wanted = list(only) if only else list(CONTROL_PLANE_BINARIES)
    missing = [b for b in wanted if not (BIN_DIR / b).is_file()]
    assets = [CRD_DIR / "gateway-api" / "VERSION", K8S_CACHE / "kwok" / "stages.yaml"]
    if not missing and not force_assets and all(a.is_file() for a in assets):
        return
    env = dict(os.environ)
    if only:
        env["ONLY"] = " ".join(missing or wanted)
    print(
        f"[controlplane] building {missing or 'CRDs/kwok stages'} with {BUILD_SCRIPT} ...",
        file=sys.stderr,
    )
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], env=env, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise ControlPlaneError(f"{BUILD_SCRIPT} failed with exit code {proc.returncode}")


def _tail(path: Path, lines: int = 60) -> str:
    try:
        data = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(data[-lines:])


# --------------------------------------------------------------------------------------
# PKI


class _PKI:
    """A tiny CA issuing EC P-256 certificates, written as PEM files into a folder."""

    def __init__(self, folder: Path):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._x509, self._hashes, self._ser, self._ec, self._oid = (
            x509,
            hashes,
            serialization,
            ec,
            NameOID,
        )
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-kubernetes-ca")])
        now = datetime.datetime.now(datetime.UTC)
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()), critical=False
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_pem = self.ca_cert.public_bytes(serialization.Encoding.PEM)
        self.ca_file = self._write("ca.crt", self.ca_pem)
        self.ca_key_file = self._write("ca.key", self._key_pem(self.ca_key))

    def _write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    def _key_pem(self, key: Any) -> bytes:
        s = self._ser
        return key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())

    def issue(
        self,
        stem: str,
        common_name: str,
        organizations: Iterable[str] = (),
        *,
        server: bool = False,
        dns: Iterable[str] = (),
        ips: Iterable[str] = (),
    ) -> tuple[Path, Path, bytes, bytes]:
        """Issue a certificate; returns (cert file, key file, cert PEM, key PEM)."""
        x509, oid = self._x509, self._oid
        key = self._ec.generate_private_key(self._ec.SECP256R1())
        attrs = [x509.NameAttribute(oid.ORGANIZATION_NAME, o) for o in organizations]
        attrs.append(x509.NameAttribute(oid.COMMON_NAME, common_name))
        now = datetime.datetime.now(datetime.UTC)
        usages = (
            [x509.ExtendedKeyUsageOID.SERVER_AUTH]
            if server
            else [x509.ExtendedKeyUsageOID.CLIENT_AUTH]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_encipherment=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    content_commitment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
        )
        sans: list[Any] = [x509.DNSName(d) for d in dns]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.ca_key, self._hashes.SHA256())
        cert_pem = cert.public_bytes(self._ser.Encoding.PEM)
        key_pem = self._key_pem(key)
        return (
            self._write(f"{stem}.crt", cert_pem),
            self._write(f"{stem}.key", key_pem),
            cert_pem,
            key_pem,
        )

    def keypair(self, stem: str) -> tuple[Path, Path]:
        """An EC key pair (e.g. for signing ServiceAccount tokens): (private, public)."""
        key = self._ec.generate_private_key(self._ec.SECP256R1())
        pub = key.public_key().public_bytes(
            self._ser.Encoding.PEM, self._ser.PublicFormat.SubjectPublicKeyInfo
        )
        return self._write(f"{stem}.key", self._key_pem(key)), self._write(f"{stem}.pub", pub)


# --------------------------------------------------------------------------------------
# processes


class _Proc:
    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None):
        self.name, self.argv, self.log = name, argv, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self._fh.write(("$ " + " ".join(argv) + "\n").encode())
        self._fh.flush()
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() kills the whole group
            env=env,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        if self.popen.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.popen.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.popen.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:  # leader gone: make sure no child of the group survives
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        self._fh.close()


# --------------------------------------------------------------------------------------
# the control plane


# With WatchList on, the API server turns every watch from resourceVersion "" or "0" into
# a watch-list stream (sendInitialEvents), which the Debian etcd 3.4 cannot serve (no
# RequestWatchProgress): such watches (kwok's, informers') failed at once and were retried
# with back-off up to 30 s. Off, they are plain watches again.
DEFAULT_APISERVER_FLAGS = ("--feature-gates=WatchList=false",)


class ControlPlane:
    """etcd + kube-apiserver (+ controller-manager, scheduler, kwok on demand)."""

    def __init__(
        self,
        *,
        workdir: str | os.PathLike[str] | None = None,
        apiserver_flags: Sequence[str] = DEFAULT_APISERVER_FLAGS,
        start_timeout: float = 120.0,
        verbosity: int = 1,
        build: bool = False,
    ):
        self.extra_apiserver_flags = list(apiserver_flags)
        self.start_timeout = start_timeout
        self.verbosity = verbosity
        self.build = build
        self._own_dir = workdir is None
        self.dir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="k8s-cp-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.dir / "logs"
        self.pki_dir = self.dir / "pki"
        self._etcd_dir: Path | None = None
        self.procs: dict[str, _Proc] = {}
        self.port: int | None = None
        self.etcd_port: int | None = None
        self.kubeconfig: Path | None = None  # admin (system:masters)
        self.pki: _PKI | None = None
        self.fake_nodes: list[str] = []
        self.startup_seconds: dict[str, float] = {}
        self._stopped = False
        atexit.register(self.stop)

    # ----------------------------------------------------------------- context manager
    def __enter__(self) -> ControlPlane:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # ----------------------------------------------------------------- start / stop
    def start(self) -> ControlPlane:
        if self.build:
            build_if_missing(["kube-apiserver"])
        t0 = time.monotonic()
        self._make_pki()
        self._start_with_port_retry("etcd", self._start_etcd)
        self._start_with_port_retry("kube-apiserver", self._start_apiserver)
        self.startup_seconds["control-plane"] = round(time.monotonic() - t0, 2)
        return self

    def _start_with_port_retry(self, name: str, fn: Any, attempts: int = 3) -> None:
        for attempt in range(attempts):
            try:
                fn()
                return
            except ControlPlaneError as err:
                proc = self.procs.get(name)
                in_use = proc is not None and "address already in use" in _tail(proc.log, 200)
                if proc is not None:
                    proc.stop()
                    del self.procs[name]
                if not in_use or attempt == attempts - 1:
                    raise err

    def stop(self) -> None:
        """Stop every process (reverse start order) and remove the temp dir. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        for name in reversed(list(self.procs)):
            try:
                self.procs[name].stop()
            except Exception as err:  # keep stopping the others
                print(f"[controlplane] stopping {name}: {err}", file=sys.stderr)
        self.procs.clear()
        if self._etcd_dir is not None:
            shutil.rmtree(self._etcd_dir, ignore_errors=True)
        if self._own_dir and not os.environ.get("CONTROLPLANE_KEEP_DIR"):
            shutil.rmtree(self.dir, ignore_errors=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def logs(self, name: str, lines: int = 80) -> str:
        return _tail(self.log_dir / f"{name}.log", lines)

    def _fail(self, message: str, *names: str) -> ControlPlaneError:
        parts = [message]
        for n in names:
            parts.append(f"----- {n} log ({self.log_dir / (n + '.log')}) -----\n{self.logs(n)}")
        text = "\n".join(parts)
        print(text, file=sys.stderr)
        return ControlPlaneError(text)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> _Proc:
        if name in self.procs and self.procs[name].alive():
            raise ControlPlaneError(f"{name} is already running")
        proc = _Proc(name, argv, self.log_dir / f"{name}.log", env=env)
        self.procs[name] = proc
        return proc

    def _binary(self, name: str) -> str:
        path = find_binary(name)
        if path is None and self.build and name in CONTROL_PLANE_BINARIES:
            build_if_missing([name])
            path = find_binary(name)
        if path is None:
            raise ControlPlaneError(
                f"{name} not found (looked in $"
                + name.upper().replace("-", "_")
                + f", {BIN_DIR}, PATH); "
                f"run {BUILD_SCRIPT.relative_to(REPO_ROOT)}"
            )
        return path

    def _wait(self, name: str, probe: Any, what: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.start_timeout)
        proc = self.procs[name]
        last = ""
        while time.monotonic() < deadline:
            if not proc.alive():
                raise self._fail(
                    f"{name} exited with code {proc.popen.returncode} before {what}", name
                )
            try:
                ok, last = probe()
                if ok:
                    return
            except Exception as err:  # connection refused etc.
                last = repr(err)
            time.sleep(0.2)
        raise self._fail(
            f"{name} not {what} after {timeout or self.start_timeout:.0f}s (last: {last})", name
        )

    # ----------------------------------------------------------------- PKI & kubeconfigs
    def _make_pki(self) -> None:
        pki = self.pki = _PKI(self.pki_dir)
        pki.issue(
            "apiserver",
            "kube-apiserver",
            server=True,
            dns=[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            ips=["127.0.0.1", SERVICE_IP],
        )
        pki.keypair("sa")
        # admin client cert now (the readiness probe uses it); its kubeconfig once the port is known
        pki.issue("client-admin", "admin", ["system:masters"])

    def _kubeconfig_doc(self, user: str, user_entry: dict[str, str]) -> dict[str, Any]:
        assert self.pki is not None
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "test",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": base64.b64encode(self.pki.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": user, "user": user_entry}],
            "contexts": [{"name": user, "context": {"cluster": "test", "user": user}}],
            "current-context": user,
        }

    def write_cert_kubeconfig(
        self, stem: str, common_name: str, groups: Iterable[str] = ()
    ) -> Path:
        """A kubeconfig authenticating with a client certificate (CN=user, O=groups)."""
        assert self.pki is not None
        assert self.port
        _, _, cert_pem, key_pem = self.pki.issue(f"client-{stem}", common_name, groups)
        return self._write_kubeconfig(
            stem,
            {
                "client-certificate-data": base64.b64encode(cert_pem).decode(),
                "client-key-data": base64.b64encode(key_pem).decode(),
            },
        )

    def _write_kubeconfig(self, stem: str, user_entry: dict[str, str]) -> Path:
        path = self.dir / f"{stem}.kubeconfig"
        path.write_text(json.dumps(self._kubeconfig_doc(stem, user_entry), indent=1))
        path.chmod(0o600)
        return path

    def write_token_kubeconfig(self, stem: str, token: str) -> Path:
        """A kubeconfig authenticating with a bearer token."""
        return self._write_kubeconfig(stem, {"token": token})

    # ----------------------------------------------------------------- etcd
    def _start_etcd(self) -> None:
        etcd = self._binary("etcd")
        client, peer = free_port(), free_port()
        shm = Path("/dev/shm")
        base = shm if shm.is_dir() and os.access(shm, os.W_OK) else self.dir
        self._etcd_dir = Path(tempfile.mkdtemp(prefix="k8s-cp-etcd-", dir=base))
        self.etcd_port = client
        self._spawn(
            "etcd",
            [
                etcd,
                "--name=default",
                f"--data-dir={self._etcd_dir}",
                f"--listen-client-urls=http://127.0.0.1:{client}",
                f"--advertise-client-urls=http://127.0.0.1:{client}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                "--initial-cluster-state=new",
                "--quota-backend-bytes=2147483648",
                "--logger=zap",
                "--log-level=warn",
            ],
        )

        def probe() -> tuple[bool, str]:
            with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=2) as r:
                body = r.read().decode()
            return '"true"' in body, body

        self._wait("etcd", probe, "healthy", timeout=60)

    # ----------------------------------------------------------------- kube-apiserver
    def _ssl_context(self, *, verify: bool = True, client: str | None = "admin") -> ssl.SSLContext:
        assert self.pki is not None
        if verify:
            ctx = ssl.create_default_context(cafile=str(self.pki.ca_file))
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if client:
            ctx.load_cert_chain(
                self.pki_dir / f"client-{client}.crt", self.pki_dir / f"client-{client}.key"
            )
        return ctx

    def _https_probe(self, url: str, ctx: ssl.SSLContext) -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=3) as r:
                body = r.read().decode(errors="replace")
                return r.status == 200, body[-500:]
        except urllib.error.HTTPError as err:
            return False, f"HTTP {err.code}: {err.read().decode(errors='replace')[-800:]}"

    def _start_apiserver(self) -> None:
        assert self.pki is not None
        self.port = free_port()
        pki = self.pki_dir
        self.kubeconfig = self._write_kubeconfig(
            "admin",
            {
                "client-certificate": str(pki / "client-admin.crt"),
                "client-key": str(pki / "client-admin.key"),
            },
        )
        self._spawn(
            "kube-apiserver",
            [
                self._binary("kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={self.dir / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--service-account-issuer={SA_ISSUER}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                f"--v={self.verbosity}",
                *self.extra_apiserver_flags,
            ],
        )
        ctx = self._ssl_context()
        self._wait(
            "kube-apiserver", lambda: self._https_probe(f"{self.server}/readyz", ctx), "ready"
        )

    # ----------------------------------------------------------------- clients
    def client(self, kubeconfig: str | os.PathLike[str] | None = None) -> Any:
        """A kubernetes.client.ApiClient (admin unless another kubeconfig is given)."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(kubeconfig or self.kubeconfig))

    def dynamic(self, kubeconfig: str | os.PathLike[str] | None = None) -> Any:
        from kubernetes.dynamic import DynamicClient

        cache = self.dir / f"discovery-{time.monotonic_ns()}.json"  # never a stale /tmp cache
        return DynamicClient(self.client(kubeconfig), cache_file=str(cache))

    def kubectl(
        self,
        *args: str,
        kubeconfig: str | os.PathLike[str] | None = None,
        check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl (.cache/k8s/bin, .cache/bin or $KUBECTL) against this cluster."""
        kubectl = find_binary("kubectl")
        if kubectl is None or kubectl == "/usr/bin/kubectl":
            raise ControlPlaneError(
                "no upstream kubectl: run `make install` (puts helm and kubectl into .tools/bin)"
            )
        return subprocess.run(
            [kubectl, f"--kubeconfig={kubeconfig or self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            check=check,
            input=input,
            timeout=300,
        )

    # ----------------------------------------------------------------- apply
    def crd_dir(self, name: str) -> Path:
        """Folder of CRDs copied by build.sh, e.g. crd_dir('gateway-api')."""
        path = CRD_DIR / name
        if not path.is_dir():
            raise ControlPlaneError(f"{path} missing; run {BUILD_SCRIPT.relative_to(REPO_ROOT)}")
        return path

    def apply(
        self,
        *sources: str | os.PathLike[str] | dict[str, Any],
        namespace: str = "default",
        use_kubectl: bool = False,
        field_manager: str = "controlplane-tests",
        wait_crds: float = 60.0,
    ) -> list[Any]:
        """Server-side apply YAML files, folders of YAML, YAML text or dicts.

        CRDs are applied first and waited for (Established) before anything else.
        Returns the applied objects (ResourceInstance) in order.
        """
        import yaml

        docs: list[dict[str, Any]] = []
        for src in sources:
            if isinstance(src, dict):
                docs.append(src)
                continue
            text_src = str(src)
            paths: list[Path] = []
            if "\n" not in text_src and Path(text_src).exists():
                p = Path(text_src)
                paths = sorted(p.glob("*.y*ml")) if p.is_dir() else [p]
            if paths:
                if use_kubectl:
                    for path in paths:
                        self.kubectl(
                            "apply",
                            "--server-side",
                            f"--field-manager={field_manager}",
                            "--force-conflicts",
                            "-n",
                            namespace,
                            "-f",
                            str(path),
                        )
                    continue
                for path in paths:
                    docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
            else:
                docs += [d for d in yaml.safe_load_all(text_src) if d]
        if not docs:
            return []
        if use_kubectl:
            text = "\n---\n".join(yaml.safe_dump(d) for d in docs)
            self.kubectl(
                "apply",
                "--server-side",
                f"--field-manager={field_manager}",
                "--force-conflicts",
                "-n",
                namespace,
                "-f",
                "-",
                input=text,
            )
            return docs
        dyn = self.dynamic()
        crds = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
        rest = [d for d in docs if d.get("kind") != "CustomResourceDefinition"]
        out = [self._apply_one(dyn, d, namespace, field_manager) for d in crds]
        if crds:
            self.wait_crds_established([d["metadata"]["name"] for d in crds], wait_crds)
            dyn.resources.invalidate_cache()
        for d in rest:
            out.append(self._apply_one(dyn, d, namespace, field_manager))
        return out

    def _apply_one(self, dyn: Any, doc: dict[str, Any], namespace: str, manager: str) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            res = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        except ResourceNotFoundError:
            dyn.resources.invalidate_cache()
            res = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        kwargs: dict[str, Any] = {"field_manager": manager, "force_conflicts": True}
        if res.namespaced:
            kwargs["namespace"] = doc.get("metadata", {}).get("namespace") or namespace
        return res.server_side_apply(body=doc, **kwargs)

    def wait_crds_established(self, names: Iterable[str], timeout: float = 60.0) -> None:
        from kubernetes import client

        api = client.ApiextensionsV1Api(self.client())
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending:
            for name in list(pending):
                crd = api.read_custom_resource_definition(name)
                conds = (
                    {c.type: c.status for c in (crd.status.conditions or [])} if crd.status else {}
                )
                if conds.get("Established") == "True":
                    pending.discard(name)
            if pending:
                if time.monotonic() > deadline:
                    raise ControlPlaneError(
                        f"CRDs not Established after {timeout}s: {sorted(pending)}"
                    )
                time.sleep(0.2)

    # ----------------------------------------------------------------- ServiceAccounts
    def serviceaccount_token(
        self,
        namespace: str,
        name: str,
        *,
        create: bool = True,
        expiration_seconds: int = 3600,
        audiences: Sequence[str] = (),
    ) -> str:
        """A bound token for namespace/name from the TokenRequest API."""
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        core = client.CoreV1Api(self.client())
        if create:
            try:
                core.create_namespaced_service_account(
                    namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
                )
            except ApiException as err:
                if err.status != 409:
                    raise
        spec = client.V1TokenRequestSpec(
            audiences=list(audiences), expiration_seconds=expiration_seconds
        )
        tr = core.create_namespaced_service_account_token(
            name, namespace, client.AuthenticationV1TokenRequest(spec=spec)
        )
        token = tr.status.token if tr.status else None
        if not token:
            raise ControlPlaneError(f"no token issued for {namespace}/{name}")
        return str(token)

    def serviceaccount_kubeconfig(self, namespace: str, name: str, **kwargs: Any) -> Path:
        """Write a kubeconfig that acts as system:serviceaccount:<namespace>:<name>."""
        token = self.serviceaccount_token(namespace, name, **kwargs)
        return self.write_token_kubeconfig(f"sa-{namespace}-{name}", token)

    # ----------------------------------------------------------------- controllers
    def start_controller_manager(self, controllers: str = "*") -> None:
        """kube-controller-manager with every default controller (Deployments, ReplicaSets,
        HPA, garbage collector, namespace, ServiceAccount + token, root CA publisher, ...).
        Each controller uses its own ServiceAccount credentials, as in a real cluster."""
        if "kube-controller-manager" in self.procs:
            return
        kc = self.write_cert_kubeconfig("controller-manager", "system:kube-controller-manager")
        port = free_port()
        pki = self.pki_dir
        self._spawn(
            "kube-controller-manager",
            [
                self._binary("kube-controller-manager"),
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.dir / 'controller-manager-certs'}",
                f"--controllers={controllers}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--kube-api-qps=100",
                "--kube-api-burst=200",
                "--horizontal-pod-autoscaler-sync-period=5s",
                "--profiling=false",
                f"--v={self.verbosity}",
            ],
        )
        ctx = self._ssl_context(verify=False, client=None)
        t0 = time.monotonic()
        self._wait(
            "kube-controller-manager",
            lambda: self._https_probe(f"https://127.0.0.1:{port}/healthz", ctx),
            "healthy",
        )
        self.startup_seconds["kube-controller-manager"] = round(time.monotonic() - t0, 2)

    def start_scheduler(self) -> None:
        if "kube-scheduler" in self.procs:
            return
        kc = self.write_cert_kubeconfig("scheduler", "system:kube-scheduler")
        port = free_port()
        self._spawn(
            "kube-scheduler",
            [
                self._binary("kube-scheduler"),
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.dir / 'scheduler-certs'}",
                "--profiling=false",
                f"--v={self.verbosity}",
            ],
        )
        ctx = self._ssl_context(verify=False, client=None)
        t0 = time.monotonic()
        self._wait(
            "kube-scheduler",
            lambda: self._https_probe(f"https://127.0.0.1:{port}/healthz", ctx),
            "healthy",
        )
        self.startup_seconds["kube-scheduler"] = round(time.monotonic() - t0, 2)

    def start_controllers(self) -> None:
        """kube-controller-manager + kube-scheduler."""
        self.start_controller_manager()
        self.start_scheduler()

    # ----------------------------------------------------------------- kwok
    def start_kwok(self, nodes: int = 0, **node_kwargs: Any) -> None:
        """Start kwok (manages Nodes annotated kwok.x-k8s.io/node=fake and their pods:
        heartbeats, Ready, pod Running/Ready) and create `nodes` fake Nodes."""
        if "kwok" not in self.procs:
            port = free_port()
            self._spawn(
                "kwok",
                [
                    self._binary("kwok"),
                    f"--kubeconfig={self.kubeconfig}",
                    f"--config={self._kwok_stages()}",
                    "--manage-all-nodes=false",
                    f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                    "--manage-nodes-with-label-selector=",
                    "--cidr=10.244.0.0/16",
                    "--node-ip=10.0.1.1",
                    "--node-lease-duration-seconds=40",
                    f"--server-address=127.0.0.1:{port}",
                    f"--v={'DEBUG' if self.verbosity >= 4 else 'INFO'}",
                ],
                env={**os.environ, "HOME": str(self.dir)},
            )  # no stray ~/.kwok config
            t0 = time.monotonic()
            self._wait("kwok", lambda: self._http_ok(f"http://127.0.0.1:{port}/healthz"), "healthy")
            self.startup_seconds["kwok"] = round(time.monotonic() - t0, 2)
        for _ in range(nodes):
            self.add_fake_node(**node_kwargs)

    def _kwok_stages(self) -> Path:
        stages = K8S_CACHE / "kwok" / "stages.yaml"
        if not stages.is_file():
            if self.build:
                build_if_missing(["kwok"], force_assets=True)
            if not stages.is_file():
                raise ControlPlaneError(
                    f"{stages} missing; run {BUILD_SCRIPT.relative_to(REPO_ROOT)}"
                )
        return stages

    @staticmethod
    def _http_ok(url: str) -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200, r.read().decode(errors="replace")[-200:]
        except urllib.error.HTTPError as err:
            return False, f"HTTP {err.code}"

    def add_fake_node(
        self,
        name: str | None = None,
        *,
        cpu: str = "32",
        memory: str = "256Gi",
        pods: str = "110",
        labels: dict[str, str] | None = None,
        wait_ready: float = 60.0,
    ) -> str:
        """Create a kwok-managed Node (no taint, so ordinary pods land on it)."""
        from kubernetes import client

        name = name or f"kwok-node-{len(self.fake_nodes)}"
        core = client.CoreV1Api(self.client())
        capacity = {"cpu": cpu, "memory": memory, "pods": pods}
        node = client.V1Node(
            metadata=client.V1ObjectMeta(
                name=name,
                annotations={KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                labels={
                    "type": "kwok",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/role": "agent",
                    "node-role.kubernetes.io/agent": "",
                    **(labels or {}),
                },
            ),
            status=client.V1NodeStatus(capacity=capacity, allocatable=capacity),
        )
        core.create_node(node)
        self.fake_nodes.append(name)
        if wait_ready:
            deadline = time.monotonic() + wait_ready
            while True:
                n = core.read_node(name)
                if any(
                    c.type == "Ready" and c.status == "True"
                    for c in ((n.status.conditions if n.status else None) or [])
                ):
                    break
                if time.monotonic() > deadline:
                    raise self._fail(f"fake node {name} not Ready after {wait_ready}s", "kwok")
                time.sleep(0.2)
        return name
