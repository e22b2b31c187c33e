"""Lattice wire protocol for Python: code generated from proto/ at run time, and a framed client.

The generated modules (protoc --python_out) go to a cache directory keyed by the .proto files'
contents, so they are never committed and never stale. A frame is a 4-byte big-endian length,
then an Envelope (proto/lattice/v1/common.proto).
"""
import hashlib
import hmac
import importlib
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROTO_ROOT = REPO / "proto"
SERVICES = ("placement", "scheduler", "worker", "circuit")
MAX_FRAME = 64 << 20


def ensure_protobuf():
    """Re-executes this script under a Python that has `google.protobuf` (see ensure-python)."""
    try:
        import google.protobuf  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("LATTICE_PY_REEXEC"):
        sys.exit("lattice: google.protobuf is still missing after re-exec; see clients/python/README.md")
    found = subprocess.run([str(HERE / "ensure-python")], capture_output=True, text=True)
    if found.returncode != 0:
        sys.exit(found.stderr.strip() or "lattice: no Python with protobuf; see clients/python/README.md")
    os.environ["LATTICE_PY_REEXEC"] = "1"
    python = found.stdout.strip()
    os.execv(python, [python] + sys.argv)


def load():
    """Generates (once per proto content) and imports the lattice.v1 modules; returns them by name."""
    protos = sorted(PROTO_ROOT.glob("lattice/v1/*.proto"))
    digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in protos)).hexdigest()[:16]
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "lattice" / "python-proto"
    out = cache / digest
    if not out.exists():
        if shutil.which("protoc") is None:
            sys.exit("lattice: protoc not found (apt-get install protobuf-compiler)")
        cache.mkdir(parents=True, exist_ok=True)
        staging = pathlib.Path(tempfile.mkdtemp(dir=cache))
        subprocess.run(["protoc", f"--proto_path={PROTO_ROOT}", f"--python_out={staging}"]
                       + [str(p.relative_to(PROTO_ROOT)) for p in protos], cwd=PROTO_ROOT, check=True)
        try:
            staging.rename(out)
        except OSError:  # another process won the race: use its copy
            shutil.rmtree(staging, ignore_errors=True)
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))
    return {p.stem.removesuffix("_pb2") if p.stem.endswith("_pb2") else p.stem:
            importlib.import_module(f"lattice.v1.{p.stem}_pb2") for p in protos}


HELLO, PROOF = "lattice.v1/Hello", "lattice.v1/Proof"


def credentials(environ=os.environ):
    """(key id, secret bytes) from the environment, in the Swift client's order:
    LATTICE_CLUSTER_SECRET_FILE, LATTICE_CLUSTER_SECRET, LATTICE_API_KEY_FILE, LATTICE_API_KEY
    (an API key is "ID.SECRET"); None when none is set."""
    def read(variable):
        try:
            with open(environ[variable], encoding="utf-8") as file:
                return file.read().strip()
        except OSError as error:
            raise CallError(f"{variable}: cannot read {environ[variable]}: {error.strerror}") from None
    if environ.get("LATTICE_CLUSTER_SECRET_FILE"):
        return "", read("LATTICE_CLUSTER_SECRET_FILE").encode()
    if environ.get("LATTICE_CLUSTER_SECRET"):
        return "", environ["LATTICE_CLUSTER_SECRET"].strip().encode()
    token = read("LATTICE_API_KEY_FILE") if environ.get("LATTICE_API_KEY_FILE") else environ.get("LATTICE_API_KEY", "").strip()
    if not token:
        return None
    key_id, dot, secret = token.partition(".")
    if not dot or not key_id or not secret:
        raise CallError("the API key is not ID.SECRET")
    return key_id, secret.encode()


class CallError(Exception):
    """A call that got no answer, or a transport failure."""


class Connection:
    """One TCP connection; calls are made one at a time and matched by call id. Deadlines are
    per read: `timeout` seconds for each answer (and sent as the call's deadline_ms)."""

    def __init__(self, address, timeout=3.0, key=None):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise CallError(f"{address!r} is not HOST:PORT")
        self.common = load()["common"]
        self.timeout = timeout
        self.next_id = 1
        try:
            self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        except OSError as error:
            raise CallError(f"cannot connect to {address}: {error.strerror or error}") from None
        try:
            self._handshake(credentials() if key is None else key)
        except socket.timeout:
            raise CallError(f"{address} did not finish the handshake within {timeout:g} s") from None
        except OSError as error:
            raise CallError(f"handshake with {address}: {error.strerror or error}") from None

    def _send(self, envelope):
        frame = envelope.SerializeToString()
        self.sock.sendall(struct.pack(">I", len(frame)) + frame)

    def _receive(self):
        (length,) = struct.unpack(">I", self._read_exact(4))
        if length > MAX_FRAME:
            raise CallError(f"frame of {length} bytes is over the {MAX_FRAME}-byte maximum")
        return self.common.Envelope.FromString(self._read_exact(length))

    def _handshake(self, key):
        """proto/lattice/v1/auth.proto: Hello, Challenge, then (if asked) Proof and Welcome."""
        auth, Envelope = load()["auth"], self.common.Envelope
        client_nonce = os.urandom(32)
        self._send(Envelope(call_id=0, method=HELLO, version=1, kind=Envelope.REQUEST,
                            payload=auth.HandshakeHello(client_nonce=client_nonce).SerializeToString()))
        answer = self._receive()
        self._refused(answer)
        challenge = auth.HandshakeChallenge.FromString(answer.payload)
        if not challenge.auth_required:
            return
        if key is None:
            raise CallError("the server asks for credentials: set LATTICE_API_KEY_FILE (lattice up writes .lattice/api.key) "
                            "or LATTICE_CLUSTER_SECRET_FILE")
        key_id, secret = key
        nonces = challenge.server_nonce + client_nonce + key_id.encode()
        mac = hmac.new(secret, b"lattice.v1 client\0" + nonces, hashlib.sha256).digest()
        self._send(Envelope(call_id=0, method=PROOF, version=1, kind=Envelope.REQUEST,
                            payload=auth.HandshakeProof(key_id=key_id, mac=mac).SerializeToString()))
        answer = self._receive()
        self._refused(answer)
        expected = hmac.new(secret, b"lattice.v1 server\0" + nonces, hashlib.sha256).digest()
        if not hmac.compare_digest(auth.HandshakeWelcome.FromString(answer.payload).mac, expected):
            raise CallError("the server did not prove it knows the secret: it is not a server of this cluster")

    def _refused(self, answer):
        if answer.HasField("status") and answer.status.code != self.common.OK:
            name = self.common.Code.Name(answer.status.code)
            raise CallError(f"handshake refused: {name}: {answer.status.message}")

    def close(self):
        self.sock.close()

    def _read_exact(self, count):
        data = bytearray()
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise CallError("connection closed by the server")
            data += chunk
        return bytes(data)

    def call(self, method, request):
        """Sends `request` to `method`; returns (Status, response payload bytes) of the first answer."""
        return next(self.stream(method, request))

    def stream(self, method, request):
        """Sends `request` to `method`; yields (Status, payload bytes) for every answer until end of stream."""
        envelope = self.common.Envelope(call_id=self.next_id, method=method, payload=request.SerializeToString(),
                                        deadline_ms=int(self.timeout * 1000), version=1,
                                        kind=self.common.Envelope.REQUEST)
        self.next_id += 1
        try:
            self._send(envelope)
            while True:
                answer = self._receive()
                if answer.call_id not in (envelope.call_id, 0):
                    continue
                yield answer.status, answer.payload
                failed = answer.HasField("status") and answer.status.code != self.common.OK
                if answer.end_of_stream or failed or answer.call_id == 0:
                    return
        except socket.timeout:
            raise CallError(f"no answer to {method} within {self.timeout:g} s") from None
        except OSError as error:
            raise CallError(f"{method}: {error.strerror or error}") from None
