"""gRPC client of eprop-server: networks, streaming sessions and jobs.

Requires the generated stubs (``eprop.v1.*_pb2``) on ``sys.path``; the
build generates them into ``build/python`` (target ``eprop_python_stubs``),
so run with ``PYTHONPATH=client/python:build/python``.

Errors:

* ``RpcError``: a failed call, or a session stream that ended with a
  non-OK status (it carries the ``grpc.StatusCode`` and the message);
* ``SessionError``: one session chunk (or the opening) rejected by the
  server with a non-OK ``status_code``; the stream stays usable.
"""

import collections
import os
import queue
import threading
from dataclasses import dataclass
from typing import Optional

import grpc
import numpy as np

from eprop.v1 import jobs_pb2, jobs_pb2_grpc, networks_pb2, networks_pb2_grpc

from .packing import pack_spikes, unpack_spikes

__all__ = [
    "Client", "Session", "ChunkResult", "EpropError", "RpcError",
    "SessionError", "make_spec",
]

# gRPC code numbers (google.rpc.Code) to grpc.StatusCode members.
_CODE_BY_NUMBER = {c.value[0]: c for c in grpc.StatusCode}


class EpropError(Exception):
    """Base class of the errors raised by this package."""


class RpcError(EpropError):
    """A call (or a session stream) failed with a gRPC status.

    ``code`` is a ``grpc.StatusCode``; ``message`` the server's text.
    """

    def __init__(self, code, message):
        self.code = code
        self.message = message
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        super().__init__(f"{name}: {message}")

    @classmethod
    def from_grpc(cls, error):
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        details = error.details() if hasattr(error, "details") else str(error)
        return cls(code, details or "")


class SessionError(EpropError):
    """The server rejected one session message (it changed nothing).

    ``code`` is the numeric gRPC status code (e.g. 3 for INVALID_ARGUMENT),
    ``status`` the matching ``grpc.StatusCode`` (None if unknown) and
    ``message`` the server's text. The session remains usable.
    """

    def __init__(self, code, message):
        self.code = int(code)
        self.status = _CODE_BY_NUMBER.get(self.code)
        self.message = message
        name = self.status.name if self.status else str(self.code)
        super().__init__(f"{name}: {message}")


def _enum_value(enum_type, prefix, value, what):
    """An enum number from an int, ``"name"`` or ``"PREFIX_NAME"``."""
    if value is None:
        return 0
    if isinstance(value, (int, np.integer)):
        if int(value) not in enum_type.values():
            raise ValueError(f"unknown {what} {value}")
        return int(value)
    name = str(value).upper().replace("-", "_")
    if not name.startswith(prefix):
        name = prefix + name
    try:
        return enum_type.Value(name)
    except ValueError:
        allowed = ", ".join(
            n[len(prefix):].lower() for n in enum_type.keys()
            if not n.endswith("_UNSPECIFIED"))
        raise ValueError(f"unknown {what} {value!r}; one of: {allowed}") from None


def make_spec(task="evidence_accumulation", algorithm=None, seed=None,
              n_lif=None, n_alif=None, batch_size=None, display_name=""):
    """A ``JobSpec`` with the given overrides; ``None`` leaves a field unset
    (the server then uses the task's constant).

    ``task``: "evidence_accumulation" or "pattern_generation" (or the enum
    name or number); ``algorithm``: "bptt", "eprop_symmetric",
    "eprop_random" or "eprop_adaptive" (None: the server's default).
    """
    spec = jobs_pb2.JobSpec(
        task=_enum_value(jobs_pb2.Task, "TASK_", task, "task"),
        algorithm=_enum_value(jobs_pb2.Algorithm, "ALGORITHM_", algorithm,
                              "algorithm"),
        display_name=display_name)
    if seed is not None:
        spec.seed = int(seed)
    if n_lif is not None:
        spec.network.n_lif = int(n_lif)
    if n_alif is not None:
        spec.network.n_alif = int(n_alif)
    if batch_size is not None:
        spec.schedule.batch_size = int(batch_size)
    return spec


def _read_token(path):
    """The token file's text without trailing whitespace; must be non-empty
    printable ASCII without spaces (it goes into an HTTP/2 header)."""
    with open(path, "r", encoding="ascii", errors="strict") as f:
        token = f.read().rstrip()
    if not token:
        raise ValueError(f"token file {path} is empty")
    if any(not (33 <= ord(c) <= 126) for c in token):
        raise ValueError(
            f"token file {path} holds characters other than printable ASCII")
    return token


class Client:
    """A connection to eprop-server.

    ``server``: "host:port"; ``token_file``: a file holding the bearer token
    sent as ``authorization: Bearer <token>`` with every call; ``tls_ca``: a
    PEM file of the CA that signed the server's certificate (TLS; None:
    plaintext); ``timeout_s``: the deadline of every unary call (and of
    exports, imports and opening or closing a session).

    Unary methods return the protobuf messages of ``proto/eprop/v1`` and
    raise ``RpcError`` on failure. Use as a context manager or call
    ``close()``.
    """

    def __init__(self, server="127.0.0.1:50051", token_file=None, tls_ca=None,
                 timeout_s=30):
        self.server = server
        self.timeout_s = float(timeout_s)
        self._metadata = ()
        if token_file:
            self._metadata = (("authorization",
                               "Bearer " + _read_token(token_file)),)
        # Session responses (learning signals of a long chunk) can exceed
        # gRPC's default 4 MiB receive limit.
        options = [("grpc.max_receive_message_length", -1),
                   ("grpc.max_send_message_length", -1)]
        if tls_ca:
            with open(tls_ca, "rb") as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            self._channel = grpc.secure_channel(server, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(server, options=options)
        self._networks = networks_pb2_grpc.NetworkServiceStub(self._channel)
        self._jobs = jobs_pb2_grpc.JobServiceStub(self._channel)

    # -- plumbing --------------------------------------------------------

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _unary(self, method, request):
        try:
            return method(request, timeout=self.timeout_s,
                          metadata=self._metadata)
        except grpc.RpcError as e:
            raise RpcError.from_grpc(e) from None

    def wait_ready(self, timeout_s=None):
        """Blocks until the channel is connected (RpcError UNAVAILABLE after
        ``timeout_s``, default the client's timeout)."""
        t = self.timeout_s if timeout_s is None else timeout_s
        try:
            grpc.channel_ready_future(self._channel).result(timeout=t)
        except grpc.FutureTimeoutError:
            raise RpcError(grpc.StatusCode.UNAVAILABLE,
                           f"cannot reach eprop-server at {self.server}") from None

    # -- networks --------------------------------------------------------

    def create_network(self, task="evidence_accumulation", algorithm=None,
                       seed=None, n_lif=None, n_alif=None, batch_size=None,
                       from_job_id=None, display_name="", spec=None):
        """Creates a network and returns its ``Network`` message.

        Either a fresh one from a spec (``spec``, a ``JobSpec``, or the
        keyword overrides of ``make_spec``) or, with ``from_job_id``, the
        latest checkpoint of that job.
        """
        request = networks_pb2.CreateNetworkRequest(display_name=display_name)
        if from_job_id:
            request.from_job_id = from_job_id
        else:
            if spec is None:
                spec = make_spec(task, algorithm, seed, n_lif, n_alif,
                                 batch_size)
            request.spec.CopyFrom(spec)
        return self._unary(self._networks.CreateNetwork, request)

    def get_network(self, network_id):
        return self._unary(self._networks.GetNetwork,
                           networks_pb2.GetNetworkRequest(network_id=network_id))

    def list_networks(self, page_size=0):
        """Every network, in creation order (follows the pages)."""
        out, token = [], ""
        while True:
            page = self._unary(
                self._networks.ListNetworks,
                networks_pb2.ListNetworksRequest(page_size=page_size,
                                                 page_token=token))
            out.extend(page.networks)
            token = page.next_page_token
            if not token:
                return out

    def delete_network(self, network_id):
        self._unary(self._networks.DeleteNetwork,
                    networks_pb2.DeleteNetworkRequest(network_id=network_id))

    def export_network(self, network_id, path):
        """Writes the network's checkpoint file to ``path`` (atomically, via
        a temporary file) and returns its size in bytes. The chunks' offsets
        and total size are checked."""
        tmp = f"{path}.tmp{os.getpid()}"
        written, total = 0, None
        try:
            with open(tmp, "wb") as f:
                stream = self._networks.ExportNetwork(
                    networks_pb2.ExportNetworkRequest(network_id=network_id),
                    timeout=self.timeout_s, metadata=self._metadata)
                for chunk in stream:
                    if chunk.offset_bytes != written:
                        raise EpropError(
                            f"export: chunk at offset {chunk.offset_bytes}, "
                            f"expected {written}")
                    if total is None:
                        total = chunk.total_bytes
                    f.write(chunk.data)
                    written += len(chunk.data)
                if total is not None and written != total:
                    raise EpropError(
                        f"export: got {written} of {total} bytes")
            os.replace(tmp, path)
        except grpc.RpcError as e:
            raise RpcError.from_grpc(e) from None
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return written

    def import_network(self, path, spec, chunk_bytes=1 << 20):
        """Creates a network from an exported file; ``spec`` is the
        network's ``JobSpec`` (or a dict of ``make_spec`` keywords). Returns
        the new ``Network``."""
        if isinstance(spec, dict):
            spec = make_spec(**spec)
        chunk_bytes = min(int(chunk_bytes), 1 << 20)

        def requests():
            yield networks_pb2.ImportNetworkRequest(spec=spec)
            with open(path, "rb") as f:
                while True:
                    data = f.read(chunk_bytes)
                    if not data:
                        return
                    yield networks_pb2.ImportNetworkRequest(data=data)

        try:
            return self._networks.ImportNetwork(
                requests(), timeout=self.timeout_s, metadata=self._metadata)
        except grpc.RpcError as e:
            raise RpcError.from_grpc(e) from None

    def session(self, network_id, batch_size, learning=True, algorithm=None,
                update_policy="end_of_sequence", return_spikes=False,
                return_learning_signals=False, return_rates=False):
        """Opens a streaming session on a network; see ``Session``."""
        return Session(self, network_id, batch_size, learning=learning,
                       algorithm=algorithm, update_policy=update_policy,
                       return_spikes=return_spikes,
                       return_learning_signals=return_learning_signals,
                       return_rates=return_rates)

    # -- jobs (thin) -----------------------------------------------------

    def submit_job(self, spec=None, **overrides):
        """Submits a job: ``spec`` (a ``JobSpec``) or ``make_spec`` keyword
        overrides. Returns the ``Job``."""
        if spec is None:
            spec = make_spec(**overrides)
        elif overrides:
            raise TypeError("pass either spec or keyword overrides")
        return self._unary(self._jobs.SubmitJob,
                           jobs_pb2.SubmitJobRequest(spec=spec))

    def get_job(self, job_id):
        return self._unary(self._jobs.GetJob,
                           jobs_pb2.GetJobRequest(job_id=job_id))

    def server_info(self):
        return self._unary(self._jobs.GetServerInfo,
                           jobs_pb2.GetServerInfoRequest())


@dataclass
class ChunkResult:
    """The server's answer to one chunk, as numpy arrays.

    ``outputs``: readout y, float32 [steps, batch, n_out];
    ``spikes``: bool [steps, batch, n_rec] (return_spikes, else None);
    ``learning_signals``: float32 [steps, batch, n_rec] (else None);
    ``rates_hz``: float32 [n_rec] over the chunk and batch (else None);
    ``loss``: task loss of the chunk's targets; ``updates``: weight updates
    applied so far; ``updated``: an update was applied after this chunk.
    """
    sequence_number: int
    steps: int
    outputs: np.ndarray
    spikes: Optional[np.ndarray]
    learning_signals: Optional[np.ndarray]
    rates_hz: Optional[np.ndarray]
    loss: float
    updates: int
    updated: bool


_END = object()  # ends the request stream


class Session:
    """A bidirectional ``NetworkService.Session`` stream.

    Created (and opened) by ``Client.session``; use as a context manager or
    call ``close()``, which half-closes the stream and waits for the server
    to end it (this releases a learning session's lock on the network).

    ``send`` transmits one chunk and waits for its result. ``post`` and
    ``receive`` pipeline chunks: post the next chunk before receiving the
    last one's result, and the server never waits for a round trip (at most
    ``MAX_IN_FLIGHT`` chunks unanswered, so memory stays bounded). After opening, ``network`` is the ``Network``
    message the server answered with (``n_in``, ``n_rec``, ``n_out``).
    """

    MAX_IN_FLIGHT = 8

    def __init__(self, client, network_id, batch_size, learning=True,
                 algorithm=None, update_policy="end_of_sequence",
                 return_spikes=False, return_learning_signals=False,
                 return_rates=False):
        self._client = client
        self.batch_size = int(batch_size)
        self.learning = bool(learning)
        self._return_spikes = bool(return_spikes)
        self._return_ls = bool(return_learning_signals)
        self._return_rates = bool(return_rates)
        self._sequence = 0
        self._in_flight = collections.deque()  # posted sequence numbers
        self._closed = False
        self._requests = queue.Queue()
        self.network = None

        open_msg = networks_pb2.SessionOpen(
            network_id=network_id, batch_size=self.batch_size,
            learning=self.learning,
            algorithm=_enum_value(jobs_pb2.Algorithm, "ALGORITHM_", algorithm,
                                  "algorithm"),
            update_policy=_enum_value(networks_pb2.UpdatePolicy,
                                      "UPDATE_POLICY_", update_policy,
                                      "update_policy"),
            return_spikes=self._return_spikes,
            return_learning_signals=self._return_ls,
            return_rates=self._return_rates)

        # The stream has no deadline (a session may last for hours); the
        # answer to the opening is awaited for at most the client's timeout.
        # An unreachable server fails the call at once (UNAVAILABLE).
        self._call = client._networks.Session(self._request_iter(),
                                              metadata=client._metadata)
        self._requests.put(networks_pb2.SessionRequest(open=open_msg))
        try:
            response = self._next(timeout_s=client.timeout_s)
        except BaseException:
            self._abort()
            raise
        if response.status_code != 0:
            self._abort()
            raise SessionError(response.status_code, response.status_message)
        if not response.HasField("opened"):
            self._abort()
            raise EpropError("session: the server did not answer the opening")
        self.network = response.opened

    # -- plumbing --------------------------------------------------------

    def _request_iter(self):
        while True:
            item = self._requests.get()
            if item is _END:
                return
            yield item

    def _next(self, timeout_s=None):
        """The next response; RpcError if the stream failed or ended."""
        timer = None
        if timeout_s:
            timer = threading.Timer(timeout_s, self._call.cancel)
            timer.daemon = True
            timer.start()
        try:
            return next(self._call)
        except StopIteration:
            self._closed = True
            raise RpcError(grpc.StatusCode.UNKNOWN,
                           "the server ended the session") from None
        except grpc.RpcError as e:
            self._closed = True
            if (timer is not None and not timer.is_alive()
                    and e.code() == grpc.StatusCode.CANCELLED):
                raise RpcError(grpc.StatusCode.DEADLINE_EXCEEDED,
                               f"no answer within {timeout_s} s") from None
            raise RpcError.from_grpc(e) from None
        finally:
            if timer is not None:
                timer.cancel()

    def _abort(self):
        self._closed = True
        self._requests.put(_END)
        self._call.cancel()

    @property
    def n_in(self):
        return self.network.n_in

    @property
    def n_rec(self):
        return self.network.n_rec

    @property
    def n_out(self):
        return self.network.n_out

    def close(self):
        """Ends the request stream and waits (at most the client's timeout)
        for the server to close the session. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._requests.put(_END)
        timer = threading.Timer(self._client.timeout_s, self._call.cancel)
        timer.daemon = True
        timer.start()
        try:
            for _ in self._call:  # the server owes no more responses
                pass
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise RpcError.from_grpc(e) from None
        finally:
            timer.cancel()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:  # do not mask the original error
            try:
                self.close()
            except Exception:
                self._call.cancel()

    # -- chunks ----------------------------------------------------------

    def build_chunk(self, inputs, targets=None, labels=None, mask=None,
                    output_error=None, reset_state=False,
                    end_of_sequence=False, apply_update=False,
                    encoding=None):
        """The ``SessionChunk`` message ``send`` would transmit (the next
        sequence number is not consumed). See ``send``."""
        return _build_chunk(self._sequence, self.batch_size,
                            self.network.n_in if self.network else None,
                            self.network.n_out if self.network else None,
                            inputs, targets, labels, mask, output_error,
                            reset_state, end_of_sequence, apply_update,
                            encoding)

    def send(self, inputs, targets=None, labels=None, mask=None,
             output_error=None, reset_state=False, end_of_sequence=False,
             apply_update=False, encoding=None):
        """Streams one chunk and returns its ``ChunkResult``.

        ``inputs``: [steps, batch, n_in]; bool or 0/1 integers are sent
        bit-packed, floats dense (``encoding`` = "packed", "events" or
        "dense" forces one). Targets, at most one kind (learning sessions):
        ``targets`` float [steps, batch, n_out] (regression), ``labels`` int
        [steps, batch] with optional ``mask`` bool [steps, batch]
        (classification; no mask: every step counts), or ``output_error``
        float [steps, batch, n_out] (dE/dy, used as given).
        ``reset_state`` zeroes the network state before the chunk;
        ``end_of_sequence`` / ``apply_update`` mark the chunk for the update
        policy.

        Raises ``SessionError`` if the server rejected this chunk (nothing
        changed; the session stays usable) and ``RpcError`` if the stream
        failed (the session is then closed).
        """
        if self._in_flight:
            raise EpropError("chunks are in flight: receive their results "
                             "before send")
        self.post(inputs, targets, labels, mask, output_error, reset_state,
                  end_of_sequence, apply_update, encoding)
        return self.receive()

    def post(self, inputs, targets=None, labels=None, mask=None,
             output_error=None, reset_state=False, end_of_sequence=False,
             apply_update=False, encoding=None):
        """Streams one chunk (arguments as for ``send``) without waiting for
        its result; ``receive`` returns the results in posting order.
        Raises ``EpropError`` when ``MAX_IN_FLIGHT`` chunks are unanswered
        or the session is closed."""
        if self._closed:
            raise EpropError("session is closed")
        if len(self._in_flight) >= self.MAX_IN_FLIGHT:
            raise EpropError(f"{self.MAX_IN_FLIGHT} chunks are in flight: "
                             "receive one before posting")
        chunk = self.build_chunk(inputs, targets, labels, mask, output_error,
                                 reset_state, end_of_sequence, apply_update,
                                 encoding)
        self._sequence += 1
        self._requests.put(networks_pb2.SessionRequest(chunk=chunk))
        self._in_flight.append(chunk.sequence_number)

    def receive(self):
        """The ``ChunkResult`` of the oldest posted chunk; errors as for
        ``send`` (a rejected chunk raises ``SessionError`` here, and the
        chunks posted after it are unaffected)."""
        if not self._in_flight:
            raise EpropError("no chunk is in flight: post first")
        expected = self._in_flight.popleft()
        response = self._next()
        if response.status_code != 0:
            raise SessionError(response.status_code, response.status_message)
        if not response.HasField("result"):
            raise EpropError("session: a response without a result")
        r = response.result
        if r.sequence_number != expected:
            raise EpropError(
                f"session: result for chunk {r.sequence_number}, expected "
                f"{expected}")
        return self._decode(r)

    def _decode(self, r):
        steps, batch = r.steps, self.batch_size
        n_out, n_rec = self.network.n_out, self.network.n_rec
        outputs = _reshape(_floats(r.outputs), (steps, batch, n_out),
                           "outputs")
        spikes = learning_signals = rates = None
        if self._return_spikes:
            spikes = unpack_spikes(r.spikes, steps, batch, n_rec)
        if self._return_ls:
            learning_signals = _reshape(
                _floats(r.learning_signals),
                (steps, batch, n_rec), "learning_signals")
        if self._return_rates:
            rates = _reshape(_floats(r.rates_hz),
                             (n_rec,), "rates_hz")
        return ChunkResult(sequence_number=r.sequence_number, steps=steps,
                           outputs=outputs, spikes=spikes,
                           learning_signals=learning_signals, rates_hz=rates,
                           loss=r.loss, updates=r.updates, updated=r.updated)


def _floats(field):
    # np.fromiter is several times faster than np.asarray on a repeated field.
    return np.fromiter(field, dtype=np.float32, count=len(field))


def _reshape(values, shape, name):
    if values.size != int(np.prod(shape)):
        raise EpropError(
            f"session: {name} has {values.size} values, expected shape {shape}")
    return values.reshape(shape)


def _float_rows(a, steps, batch, n, name):
    a = np.asarray(a)
    if a.shape != (steps, batch, n):
        raise ValueError(
            f"{name} must have shape [{steps}, {batch}, {n}], got {a.shape}")
    return networks_pb2.DenseInputs(
        values=a.astype(np.float32).reshape(-1).tolist())


def _is_binary(a):
    return a.dtype == np.bool_ or (
        np.issubdtype(a.dtype, np.integer) and
        (a.size == 0 or bool(np.all((a == 0) | (a == 1)))))


def _build_chunk(sequence_number, batch, n_in, n_out, inputs, targets, labels,
                 mask, output_error, reset_state, end_of_sequence,
                 apply_update, encoding):
    x = np.asarray(inputs)
    if x.ndim != 3 or x.shape[1] != batch:
        raise ValueError(
            f"inputs must have shape [steps, {batch}, n_in], got {x.shape}")
    if n_in is not None and x.shape[2] != n_in:
        raise ValueError(f"inputs have {x.shape[2]} channels; the network "
                         f"has n_in = {n_in}")
    steps = x.shape[0]
    chunk = networks_pb2.SessionChunk(
        sequence_number=sequence_number, steps=steps,
        reset_state=bool(reset_state), end_of_sequence=bool(end_of_sequence),
        apply_update=bool(apply_update))

    if encoding is None:
        if _is_binary(x):
            encoding = "packed"
        elif np.issubdtype(x.dtype, np.floating):
            encoding = "dense"
        else:
            raise ValueError(
                "integer inputs must be 0/1 spikes; pass floats for "
                "real-valued inputs")
    if encoding == "packed":
        chunk.inputs.packed = pack_spikes(x)
    elif encoding == "events":
        if not _is_binary(x) and not np.all((x == 0) | (x == 1)):
            raise ValueError("events encoding needs 0/1 inputs")
        flat = x.reshape(steps * batch, x.shape[2]).astype(bool)
        rows, cols = np.nonzero(flat)  # row-major: by row, then input
        chunk.inputs.events.rows.extend(rows.astype(np.int32).tolist())
        chunk.inputs.events.inputs.extend(cols.astype(np.int32).tolist())
    elif encoding == "dense":
        chunk.inputs.dense.values.extend(
            x.astype(np.float32).reshape(-1).tolist())
    else:
        raise ValueError(f"unknown encoding {encoding!r}")

    given = [k for k, v in (("targets", targets), ("labels", labels),
                            ("output_error", output_error)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"pass at most one of {', '.join(given)}")
    if mask is not None and labels is None:
        raise ValueError("mask needs labels")
    if targets is not None or output_error is not None:
        a = targets if targets is not None else output_error
        name = "targets" if targets is not None else "output_error"
        n = n_out if n_out is not None else np.asarray(a).shape[-1]
        dense = _float_rows(a, steps, batch, n, name)
        if targets is not None:
            chunk.targets.regression.CopyFrom(dense)
        else:
            chunk.targets.output_error.CopyFrom(dense)
    elif labels is not None:
        lab = np.asarray(labels)
        if lab.shape != (steps, batch):
            raise ValueError(
                f"labels must have shape [{steps}, {batch}], got {lab.shape}")
        if not np.issubdtype(lab.dtype, np.integer):
            raise ValueError("labels must be integers")
        cls = chunk.targets.classification
        cls.labels.extend(lab.astype(np.int32).reshape(-1).tolist())
        if mask is not None:
            m = np.asarray(mask)
            if m.shape != (steps, batch):
                raise ValueError(
                    f"mask must have shape [{steps}, {batch}], got {m.shape}")
            cls.mask.extend(m.astype(bool).reshape(-1).tolist())
        else:
            # SetInParent: a classification with an empty mask (all rows).
            cls.SetInParent()
    return chunk
