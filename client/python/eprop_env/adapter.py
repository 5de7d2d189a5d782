"""Connects a gymnasium-style environment to an RL job of eprop-server.

The environment process is the gRPC client of
``EnvironmentService.ConnectEnvironment`` (proto/eprop/v1/environments.proto):
it opens the stream with its observation spec and a fresh run id, then sends
one ``EnvironmentStep`` per observation and waits for the action that
answers it. A step carries the observation to act on and the outcome
(reward, terminated, truncated) of the previous action; after an episode
ended the environment has been reset and the observation is the first of the
next episode.

Only numpy (and ``eprop_client.packing``) is needed to import this module;
grpc and the generated stubs (``eprop.v1.environments_pb2``) are imported by
``run``, which raises ImportError with instructions if they are missing.
"""

import logging
import queue
import random
import secrets
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from eprop_client.packing import pack_spikes

__all__ = [
    "run", "Stats", "ObservationFormat", "infer_format", "EnvAdapterError",
    "RejectedError", "StreamError", "KINDS",
]

log = logging.getLogger("eprop_env")

# Observation kinds by name: their eprop.v1.ObservationKind numbers.
KINDS = {"features": 1, "rgb": 2, "spikes": 3}

BACKOFF_INITIAL_S = 0.1  # first reconnect delay, doubled up to the maximum
BACKOFF_MAX_S = 5.0
CLOSE_WAIT_S = 2.0  # how long a clean close waits for the server's end


# -- errors ----------------------------------------------------------------

class EnvAdapterError(Exception):
    """Base class of the errors of ``run``. ``stats`` holds the progress
    made before the error (None if it happened before the first
    connection)."""

    def __init__(self, message, stats=None):
        super().__init__(message)
        self.stats = stats


# Per-message answers that mean "not now" rather than "wrong":
# UNAVAILABLE (14) and ABORTED (10), as google.rpc.Code values.
_RETRYABLE_ANSWERS = (14, 10)


class RejectedError(EnvAdapterError):
    """The server rejected one message (an AgentMessage with a non-OK
    ``status_code``), e.g. an open whose spec differs from the job's.
    ``code`` is the numeric gRPC status code, ``message`` the server's
    text."""

    def __init__(self, code, message, what, stats=None):
        self.code = int(code)
        self.message = message
        super().__init__(f"the server rejected the {what}: "
                         f"{_code_name(self.code)}: {message}", stats)


class StreamError(EnvAdapterError):
    """The stream ended with an error that a reconnect does not cure
    (unknown job, job not running, bad token, ...), or the reconnects were
    exhausted. ``code`` is the ``grpc.StatusCode``, ``message`` the
    server's text."""

    def __init__(self, code, message, explanation, stats=None):
        self.code = code
        self.message = message
        super().__init__(explanation, stats)


def _code_name(number):
    try:
        import grpc
        for c in grpc.StatusCode:
            if c.value[0] == number:
                return c.name
    except ImportError:
        pass
    return str(number)


# -- observations ------------------------------------------------------------

@dataclass(frozen=True)
class ObservationFormat:
    """How observations go on the wire: ``kind`` ("features", "rgb" or
    "spikes") and ``shape`` (the spec's dimensions, each >= 1)."""

    kind: str
    shape: tuple

    @property
    def size(self):
        return int(np.prod(self.shape))

    def encode(self, obs):
        """The EnvironmentStep fields of one observation, as keyword
        arguments: ``{"features": [float, ...]}`` (float32 values in
        row-major order) or ``{"observation": bytes}`` (rgb: the uint8
        values in row-major (y, x, channel) order; spikes: value i at byte
        i // 8, bit i % 8, least significant bit first).

        Raises ValueError if the observation does not fit the format
        (size, rgb shape or range, non-binary spikes, non-finite features).
        """
        a = np.asarray(obs)
        if a.size != self.size or (self.kind == "rgb"
                                   and a.shape != self.shape):
            raise ValueError(f"observation of shape {list(a.shape)} does not "
                             f"match the spec {self.kind} {list(self.shape)}")
        if self.kind == "features":
            x = a.astype(np.float32).reshape(-1)
            if not np.all(np.isfinite(x)):
                raise ValueError("observation holds non-finite values")
            return {"features": x.tolist()}
        if self.kind == "rgb":
            if a.dtype != np.uint8:
                if not (np.issubdtype(a.dtype, np.integer)
                        and a.min() >= 0 and a.max() <= 255):
                    raise ValueError("rgb observations must be uint8 "
                                     f"(got {a.dtype})")
                a = a.astype(np.uint8)
            return {"observation": a.tobytes(order="C")}
        try:
            return {"observation": pack_spikes(a.reshape(1, 1, -1))}
        except ValueError:
            raise ValueError("spikes observations must hold only 0 and 1 "
                             "(or bool)") from None


def infer_format(env, obs, kind=None):
    """The ``ObservationFormat`` of ``env``.

    The shape is ``env.observation_space.shape`` if the environment has one
    (not None), else the numpy shape of ``obs`` (its first observation); a
    scalar is shape [1]. ``kind`` ("features", "rgb", "spikes") overrides
    the default: "rgb" for a uint8 array of shape [H, W, 3], "features"
    otherwise (binary observations are sent bit-packed only with "spikes").
    ValueError if the shape does not suit the kind or ``obs`` does not fit.
    """
    a = np.asarray(obs)
    space = getattr(env, "observation_space", None)
    shape = getattr(space, "shape", None)
    shape = tuple(int(d) for d in (a.shape if shape is None else shape))
    shape = shape or (1,)
    if any(d < 1 for d in shape):
        raise ValueError(f"observation shape {list(shape)}: every dimension "
                         "must be >= 1")
    if kind is None:
        kind = ("rgb" if a.dtype == np.uint8 and a.ndim == 3
                and a.shape[2] == 3 else "features")
    if kind not in KINDS:
        raise ValueError(f"unknown observation kind {kind!r}; one of: "
                         + ", ".join(KINDS))
    if kind == "rgb" and (len(shape) != 3 or shape[2] != 3):
        raise ValueError(f"rgb observations need shape [H, W, 3], got "
                         f"{list(shape)}")
    fmt = ObservationFormat(kind, shape)
    fmt.encode(obs)  # fails early if the first observation does not fit
    return fmt


# -- the environment's API ----------------------------------------------------

def _reset(env):
    """``env.reset()``'s observation: gymnasium returns (obs, info)."""
    r = env.reset()
    if isinstance(r, tuple) and len(r) == 2 and isinstance(r[1], dict):
        return r[0]
    return r


def _step(env, action):
    """(obs, reward, terminated, truncated) of ``env.step(action)``.

    gymnasium returns five values; old gym four, (obs, reward, done, info),
    where a time limit sets ``info["TimeLimit.truncated"]``: that ending
    counts as truncated, any other ``done`` as terminated.
    """
    r = env.step(action)
    if len(r) == 5:
        obs, reward, terminated, truncated, _ = r
    elif len(r) == 4:
        obs, reward, done, info = r
        truncated = bool(done) and bool(
            isinstance(info, dict) and info.get("TimeLimit.truncated", False))
        terminated = bool(done) and not truncated
    else:
        raise TypeError(f"env.step returned {len(r)} values; expected 5 "
                        "(gymnasium) or 4 (gym)")
    reward = float(reward)
    if not np.isfinite(reward):
        raise ValueError(f"env.step returned a non-finite reward {reward}")
    return obs, reward, bool(terminated), bool(truncated)


def _num_actions(env):
    n = getattr(getattr(env, "action_space", None), "n", None)
    if n is None:
        raise ValueError("the environment needs discrete actions: "
                         "env.action_space.n is missing")
    if int(n) < 1:
        raise ValueError(f"env.action_space.n is {n}; must be >= 1")
    return int(n)


# -- statistics -------------------------------------------------------------

@dataclass
class Stats:
    """Progress of ``run``, updated in place while it runs.

    ``frames``: actions received and applied to the environment;
    ``episodes``: episodes that ended (terminated or truncated);
    ``returns``: their returns (sum of rewards), in order; an episode cut
    short by a reconnect is not counted; ``reconnects``: streams re-opened
    after a transient failure; ``end``: why ``run`` returned ("frames":
    the budget was reached, "stopped": ``stop_event``, "job ended": the
    server ended the stream with CANCELLED, "closed": the server ended the
    stream without error); empty while running or after an error.
    """

    frames: int = 0
    episodes: int = 0
    returns: list = field(default_factory=list)
    reconnects: int = 0
    end: str = ""

    def mean_return(self, last=100):
        """Mean of the last ``last`` episode returns (NaN if none)."""
        recent = self.returns[-last:]
        return float(np.mean(recent)) if recent else float("nan")


# -- gRPC ----------------------------------------------------------------

_STUBS = None


def _stubs():
    """(grpc, environments_pb2, environments_pb2_grpc), imported once."""
    global _STUBS
    if _STUBS is None:
        try:
            import grpc
            from eprop.v1 import environments_pb2, environments_pb2_grpc
        except ImportError as e:
            raise ImportError(
                f"eprop_env needs grpcio and the generated stubs ({e}): use "
                "Debian's /usr/bin/python3 (python3-grpcio), build the target "
                "eprop_python_stubs and set "
                "PYTHONPATH=client/python:build/python") from e
        _STUBS = (grpc, environments_pb2, environments_pb2_grpc)
    return _STUBS


def read_token(path):
    """The bearer token in ``path`` (trailing whitespace removed); must be
    non-empty printable ASCII without spaces (it goes into a header)."""
    with open(path, "r", encoding="ascii") as f:
        token = f.read().rstrip()
    if not token or any(not 33 <= ord(c) <= 126 for c in token):
        raise ValueError(f"token file {path}: empty or not printable ASCII")
    return token


class _Stopped(Exception):
    """``stop_event`` was set while waiting for an answer."""


class _StreamClosed(Exception):
    """The stream ended: ``code`` (a grpc.StatusCode) and ``details``."""

    def __init__(self, code, details):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


_END = object()  # ends the request iterator


class _Connection:
    """One ConnectEnvironment stream. Requests are fed to gRPC by an
    iterator over a queue; a thread reads the responses into another queue,
    so that waiting for an answer can time out and honour a stop event."""

    def __init__(self, stub, metadata):
        self._requests = queue.Queue()
        self._responses = queue.Queue()
        self._call = stub.ConnectEnvironment(iter(self._requests.get, _END),
                                             metadata=metadata)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        grpc = _stubs()[0]
        try:
            for response in self._call:
                self._responses.put(response)
            self._responses.put(_StreamClosed(grpc.StatusCode.OK, ""))
        except grpc.RpcError as e:
            self._responses.put(_StreamClosed(e.code(), e.details() or ""))

    def exchange(self, message, stop_event, timeout_s):
        """Sends ``message`` and returns the next AgentMessage. Raises
        _StreamClosed if the stream ended (UNAVAILABLE if no answer came
        within ``timeout_s``), _Stopped if ``stop_event`` was set."""
        self._requests.put(message)
        deadline = time.monotonic() + timeout_s
        while not stop_event.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _StreamClosed(_stubs()[0].StatusCode.UNAVAILABLE,
                                    f"no answer within {timeout_s:g} s")
            try:
                item = self._responses.get(timeout=min(0.1, remaining))
            except queue.Empty:
                continue
            if isinstance(item, _StreamClosed):
                raise item
            return item
        raise _Stopped()

    def close(self, wait_s):
        """Half-closes the stream (the environment leaves the job), waits at
        most ``wait_s`` for the server to end it, then cancels it."""
        self._requests.put(_END)
        self._reader.join(wait_s)
        self._call.cancel()


def _channel(grpc, server, tls_ca):
    # gRPC's own reconnect backoff (up to 120 s by default) would otherwise
    # keep failing calls long after the server is back.
    options = [("grpc.initial_reconnect_backoff_ms", 100),
               ("grpc.min_reconnect_backoff_ms", 100),
               ("grpc.max_reconnect_backoff_ms", int(BACKOFF_MAX_S * 1000))]
    if tls_ca:
        with open(tls_ca, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        return grpc.secure_channel(server, creds, options=options)
    return grpc.insecure_channel(server, options=options)


class _Runner:
    """The state of one ``run`` call (see there)."""

    def __init__(self, env, server, job, frames, stop_event, token, tls_ca,
                 name, kind, stats, answer_timeout_s, max_retries):
        self.grpc, self.pb, pb_grpc = _stubs()
        self.env, self.job, self.name = env, job, name
        self.label = name or "env"  # in log messages
        self.frames = frames
        self.stop = stop_event if stop_event is not None else threading.Event()
        self.stats = stats if stats is not None else Stats()
        self.answer_timeout_s = float(answer_timeout_s)
        self.max_retries = max_retries
        self.num_actions = _num_actions(env)
        self.first_obs = _reset(env)
        self.format = infer_format(env, self.first_obs, kind)
        self.metadata = ((("authorization", f"Bearer {token}"),) if token
                         else ())
        self.channel = _channel(self.grpc, server, tls_ca)
        self.stub = pb_grpc.EnvironmentServiceStub(self.channel)
        self.done = 0  # frames of this run
        self._connected = False  # the last stream answered a step

    def run(self):
        codes = self.grpc.StatusCode
        obs, failures = self.first_obs, 0
        self.stats.end = ""
        try:
            while True:
                conn = _Connection(self.stub, self.metadata)
                try:
                    return self._finish(self._session(conn, obs))
                except _Stopped:
                    return self._finish("stopped")
                except _StreamClosed as e:
                    if e.code == codes.CANCELLED:
                        log.warning("%s: job %s ended or was cancelled (%s)",
                                    self.label, self.job, e.details)
                        return self._finish("job ended")
                    if e.code == codes.OK:
                        log.warning("%s: the server closed the stream",
                                    self.label)
                        return self._finish("closed")
                    if e.code != codes.UNAVAILABLE:
                        raise StreamError(e.code, e.details, self._explain(e),
                                          self.stats) from None
                    reason = str(e)
                finally:  # a clean end lets the server end the stream
                    conn.close(CLOSE_WAIT_S if self.stats.end else 0)
                if self._connected:
                    failures = 0
                failures += 1
                if (self.max_retries is not None
                        and failures > self.max_retries):
                    raise StreamError(codes.UNAVAILABLE, reason,
                                      f"giving up after {failures} failed "
                                      f"connections: {reason}", self.stats)
                delay = random.uniform(0.5, 1.0) * min(
                    BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** (failures - 1))
                log.warning("%s: %s; reconnecting in %.2f s", self.label,
                            reason, delay)
                if self.stop.wait(delay):
                    return self._finish("stopped")
                self.stats.reconnects += 1
                obs = _reset(self.env)
        finally:
            self.channel.close()

    def _finish(self, end):
        self.stats.end = end
        return self.stats

    def _explain(self, e):
        codes = self.grpc.StatusCode
        what = {
            codes.NOT_FOUND: f"job {self.job} is unknown to the server",
            codes.FAILED_PRECONDITION:
                f"job {self.job} is not running (finished, failed, or not "
                "an RL job)",
            codes.UNAUTHENTICATED: "the server refused the token",
            codes.PERMISSION_DENIED: "the server refused the token",
        }.get(e.code, "the stream failed")
        return f"{what}: {e.code.name}: {e.details}"

    def _check(self, reply, field_name, what):
        if reply.status_code in _RETRYABLE_ANSWERS:
            # The job is queued, restarting or replaced its hub: retry.
            raise _StreamClosed(self.grpc.StatusCode.UNAVAILABLE,
                                reply.status_message)
        if reply.status_code != 0:
            raise RejectedError(reply.status_code, reply.status_message, what,
                                self.stats)
        if not reply.HasField(field_name):
            raise EnvAdapterError(f"the server answered the {what} without "
                                  f"{field_name}", self.stats)

    def _session(self, conn, obs):
        """Opens the stream with a fresh run id and steps the environment
        until the frames budget is spent; returns the reason."""
        self._connected = False
        run_id = secrets.token_hex(8)
        spec = self.pb.ObservationSpec(kind=KINDS[self.format.kind],
                                       shape=self.format.shape)
        open_msg = self.pb.EnvironmentOpen(
            job_id=self.job, name=self.name, run_id=run_id,
            observation_spec=spec, num_actions=self.num_actions)
        reply = conn.exchange(self.pb.EnvironmentMessage(open=open_msg),
                              self.stop, self.answer_timeout_s)
        self._check(reply, "accepted", "open")
        log.info("%s: joined job %s in slot %d (run %s)", self.label,
                 self.job, reply.accepted.slot, run_id)
        seq, reward, terminated, truncated, ret = 0, 0.0, False, False, 0.0
        while True:
            if self.frames is not None and self.done >= self.frames:
                return "frames"
            if self.stop.is_set():
                return "stopped"
            step = self.pb.EnvironmentStep(
                sequence_number=seq, reward=reward, terminated=terminated,
                truncated=truncated, **self.format.encode(obs))
            reply = conn.exchange(self.pb.EnvironmentMessage(step=step),
                                  self.stop, self.answer_timeout_s)
            self._check(reply, "action", f"step {seq}")
            action = reply.action.action
            if reply.action.sequence_number != seq or not (
                    0 <= action < self.num_actions):
                raise EnvAdapterError(
                    f"the server answered step {seq} with action {action} "
                    f"of step {reply.action.sequence_number}", self.stats)
            self._connected = True
            obs, reward, terminated, truncated = _step(self.env, action)
            seq += 1
            self.done += 1
            self.stats.frames += 1
            ret += reward
            if terminated or truncated:
                self.stats.returns.append(ret)
                self.stats.episodes += 1
                ret = 0.0
                obs = _reset(self.env)


def run(env, server="127.0.0.1:50051", job="", frames=None, stop_event=None,
        *, token=None, token_file=None, tls_ca=None, name="", kind=None,
        stats=None, answer_timeout_s=60.0, max_retries=None):
    """Connects ``env`` to the RL job ``job`` and steps it with the job's
    actions. Blocks; returns the ``Stats`` when it ends.

    ``env``: ``reset()`` returning ``obs`` or ``(obs, info)``;
    ``step(action)`` returning ``(obs, reward, terminated, truncated,
    info)`` or ``(obs, reward, done, info)``; ``action_space.n`` (discrete
    actions); optionally ``observation_space.shape`` (see
    ``infer_format``). ``kind``: "features", "rgb" or "spikes" (None:
    inferred). ``frames``: stop after this many actions (None: no limit);
    ``stop_event``: a ``threading.Event`` that stops the run (it is checked
    between steps and while waiting). ``token`` or ``token_file``: the
    bearer token; ``tls_ca``: PEM of the CA (None: plaintext). ``name``: a
    label for the server's logs. ``stats``: a ``Stats`` to update in place
    (e.g. to watch progress from another thread).

    Each connection resets the environment and opens the stream with a
    fresh run id (16 hex digits). UNAVAILABLE, or no answer within
    ``answer_timeout_s``, reconnects after an exponential backoff with
    jitter (0.1 s doubling to 5 s); ``max_retries`` bounds the consecutive
    failed connections (None: unlimited). The stream ended by the server
    with CANCELLED (the job ended or was cancelled) or without error ends
    the run normally (``Stats.end``).

    Raises ``RejectedError`` if the server rejects a message (e.g. the spec
    differs from the job's), ``StreamError`` for other stream errors
    (NOT_FOUND: unknown job; FAILED_PRECONDITION: the job is not running;
    UNAUTHENTICATED, ...), ValueError/TypeError if the environment does not
    fit, ImportError without grpc or the stubs. The environment's own
    exceptions propagate. The stream is closed in every case.
    """
    if token_file:
        token = read_token(token_file)
    return _Runner(env, server, job, frames, stop_event, token, tls_ca, name,
                   kind, stats, answer_timeout_s, max_retries).run()
