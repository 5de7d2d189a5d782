"""eprop_env against an in-process fake EnvironmentService (no eprop-server).

Checks the wire protocol as the adapter speaks it: the opening (spec, number
of actions, run id, job), sequence numbers, the outcome of each action in
the next step, resets after an episode end, the three observation
encodings, the frames budget, per-message rejections, reconnects after
UNAVAILABLE, a clean stop on CANCELLED, fatal stream errors, the token, the
command line, and importing without the stubs. Skipped (with the reason on
stderr) without grpc or the generated stubs.
"""

import logging
import os
import subprocess
import sys
import tempfile
import threading
import types
import unittest
from concurrent import futures

import numpy as np

import eprop_env
from eprop_env import __main__ as cli

try:
    import grpc
    from eprop.v1 import environments_pb2 as pb, environments_pb2_grpc
    HAVE_STUBS = True
except ImportError as e:
    HAVE_STUBS = False
    SKIP_REASON = f"grpc or the generated stubs are not importable ({e})"
    print(f"{__name__}: skipping the fake-server tests: {SKIP_REASON}",
          file=sys.stderr)

# Quiet: the adapter logs connections and reconnects, and the command line
# adds a stderr handler only if the logger has none.
_LOG = logging.getLogger("eprop_env")
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False

CLIENT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT_S = 10  # bound of every run and wait


class Corridor:
    """Positions 0..4, start at 2; action 1 moves right, 0 left. The episode
    terminates at either end, with reward 1 at the right end (0 else); with
    ``max_steps`` it is truncated after that many steps.

    ``obs``: "onehot" (float32 [5]), "grid" (float64 [2, 3]), "bits" (bool
    [11]) or "rgb" (uint8 [2, 3, 3]). ``space``: whether it has an
    ``observation_space``; ``old_api``: gym's 4-value step and bare reset.
    """

    SHAPES = {"onehot": (5,), "grid": (2, 3), "bits": (11,), "rgb": (2, 3, 3)}

    def __init__(self, obs="onehot", space=True, old_api=False,
                 max_steps=None):
        self.kind, self.old_api, self.max_steps = obs, old_api, max_steps
        self.action_space = types.SimpleNamespace(n=2)
        if space:
            self.observation_space = types.SimpleNamespace(
                shape=self.SHAPES[obs])
        self.pos, self.t, self.resets = 2, 0, 0

    @classmethod
    def observe(cls, kind, pos):
        if kind == "onehot":
            return np.eye(5, dtype=np.float32)[pos]
        if kind == "grid":
            return np.arange(6, dtype=np.float64).reshape(2, 3) * 0.5 + pos
        if kind == "bits":
            return np.array([(i * 3 + pos) % 4 == 0 for i in range(11)])
        return (np.arange(18, dtype=np.uint8) + 20 * pos).reshape(2, 3, 3)

    def reset(self):
        self.pos, self.t = 2, 0
        self.resets += 1
        obs = self.observe(self.kind, self.pos)
        return obs if self.old_api else (obs, {})

    def step(self, action):
        assert action in (0, 1), action
        self.pos += 1 if action == 1 else -1
        self.t += 1
        terminated = self.pos in (0, 4)
        truncated = (not terminated and self.max_steps is not None
                     and self.t >= self.max_steps)
        reward = 1.0 if self.pos == 4 else 0.0
        obs = self.observe(self.kind, self.pos)
        if self.old_api:
            info = {"TimeLimit.truncated": True} if truncated else {}
            return obs, reward, terminated or truncated, info
        return obs, reward, terminated, truncated, {}


def make_corridor():
    return Corridor()


# Actions the fake answers with, by sequence number: from 2, right to 3,
# left to 0 (terminated, reward 0), reset, right to 4 (terminated, reward 1),
# reset, ... (see expected_steps).
ACTIONS = [1, 0, 0, 0, 1, 1, 1, 0, 1, 1]


def expected_steps(kind, n_steps, max_steps=None):
    """(observation, reward, terminated, truncated) of the first n_steps
    EnvironmentSteps of a stream, by an independent simulation."""
    out, pos, t = [], 2, 0
    reward, terminated, truncated = 0.0, False, False
    for seq in range(n_steps):
        out.append((Corridor.observe(kind, pos), reward, terminated,
                    truncated))
        pos += 1 if ACTIONS[seq % len(ACTIONS)] == 1 else -1
        t += 1
        terminated = pos in (0, 4)
        truncated = not terminated and max_steps is not None and t >= max_steps
        reward = 1.0 if pos == 4 else 0.0
        if terminated or truncated:
            pos, t = 2, 0
    return out


def unpack_bits(data, n):
    """Value i from byte i // 8, bit i % 8 (written out, not numpy)."""
    return [bool((data[i // 8] >> (i % 8)) & 1) for i in range(n)]


if HAVE_STUBS:

    class FakeEnvironments(environments_pb2_grpc.EnvironmentServiceServicer):
        """Records every stream's messages and metadata; answers opens with
        ``accepted`` and steps with ACTIONS[sequence_number % 10].

        ``aborts[(stream, index)] = (code, details)`` ends stream ``stream``
        (0-based) on its message ``index`` (0: the open);
        ``rejects[(stream, index)] = (status_code, message)`` answers that
        message with an error status; ``hangs`` holds (stream, index) pairs
        never answered (until ``release`` is set).
        """

        def __init__(self):
            self.lock = threading.Lock()
            self.streams = []   # [[EnvironmentMessage, ...], ...]
            self.metadata = []  # invocation metadata of each stream
            self.finished = []  # stream indices whose requests ended
            self.aborts, self.rejects, self.hangs = {}, {}, set()
            self.release = threading.Event()

        def ConnectEnvironment(self, request_iterator, context):
            with self.lock:
                index = len(self.streams)
                messages = []
                self.streams.append(messages)
                self.metadata.append(tuple(context.invocation_metadata()))
            for i, message in enumerate(request_iterator):
                with self.lock:
                    messages.append(message)
                key = (index, i)
                if key in self.aborts:
                    context.abort(*self.aborts[key])
                if key in self.hangs:
                    self.release.wait(TIMEOUT_S)
                    continue
                if key in self.rejects:
                    code, text = self.rejects[key]
                    yield pb.AgentMessage(status_code=code,
                                          status_message=text)
                elif message.HasField("open"):
                    yield pb.AgentMessage(accepted=pb.EnvironmentAccepted(
                        job_id=message.open.job_id, slot=index,
                        max_queueing_delay_ms=20))
                else:
                    seq = message.step.sequence_number
                    yield pb.AgentMessage(action=pb.Action(
                        sequence_number=seq,
                        action=ACTIONS[seq % len(ACTIONS)]))
            with self.lock:
                self.finished.append(index)

        def wait_finished(self, count):
            for _ in range(TIMEOUT_S * 100):
                with self.lock:
                    if len(self.finished) >= count:
                        return True
                self.release.wait(0.01)
            return False


@unittest.skipUnless(HAVE_STUBS, "grpc or the generated stubs are missing")
class FakeServerTest(unittest.TestCase):

    def setUp(self):
        self.fake = FakeEnvironments()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        environments_pb2_grpc.add_EnvironmentServiceServicer_to_server(
            self.fake, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = f"127.0.0.1:{port}"

    def tearDown(self):
        self.fake.release.set()
        self.server.stop(None)

    def run_env(self, env, stop_event=None, **kwargs):
        """eprop_env.run in a thread, bounded by TIMEOUT_S; returns its
        Stats or raises its exception."""
        stop_event = stop_event or threading.Event()
        result = {}

        def target():
            try:
                result["stats"] = eprop_env.run(
                    env, server=self.address, job="job-000007",
                    stop_event=stop_event, **kwargs)
            except BaseException as e:  # noqa: BLE001 -- re-raised below
                result["error"] = e

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(TIMEOUT_S)
        if thread.is_alive():
            stop_event.set()
            thread.join(TIMEOUT_S)
            self.fail("eprop_env.run did not return in time")
        if "error" in result:
            raise result["error"]
        return result["stats"]

    def steps(self, stream):
        return [m.step for m in self.fake.streams[stream][1:]]

    def check_steps(self, steps, kind, max_steps=None):
        """The steps carry the simulated observations and outcomes."""
        expected = expected_steps(kind, len(steps), max_steps)
        for seq, (step, (obs, reward, term, trunc)) in enumerate(
                zip(steps, expected)):
            self.assertEqual(step.sequence_number, seq)
            self.assertEqual((step.reward, step.terminated, step.truncated),
                             (reward, term, trunc), f"step {seq}")
            if kind in ("onehot", "grid"):
                self.assertEqual(step.observation, b"")
                np.testing.assert_array_equal(
                    np.asarray(step.features, np.float32),
                    obs.astype(np.float32).reshape(-1))
            elif kind == "bits":
                self.assertEqual(len(step.features), 0)
                self.assertEqual(len(step.observation), 2)
                self.assertEqual(unpack_bits(step.observation, 11), list(obs))
            else:
                self.assertEqual(len(step.features), 0)
                # Row-major (y, x, channel).
                self.assertEqual(list(step.observation),
                                 [int(obs[y, x, c]) for y in range(2)
                                  for x in range(3) for c in range(3)])

    def test_open_steps_and_budget(self):
        env = Corridor()
        stats = self.run_env(env, frames=10, name="corridor")
        self.assertEqual(len(self.fake.streams), 1)
        first = self.fake.streams[0][0]
        self.assertTrue(first.HasField("open"))
        op = first.open
        self.assertEqual(op.job_id, "job-000007")
        self.assertEqual(op.name, "corridor")
        self.assertRegex(op.run_id, r"^[0-9a-f]{16}$")
        self.assertEqual(op.observation_spec.kind,
                         pb.OBSERVATION_KIND_FEATURES)
        self.assertEqual(list(op.observation_spec.shape), [5])
        self.assertEqual(op.num_actions, 2)
        # Ten actions, ten steps: the last action's outcome is not sent.
        steps = self.steps(0)
        self.assertEqual(len(steps), 10)
        self.check_steps(steps, "onehot")
        self.assertEqual((stats.frames, stats.episodes, stats.reconnects,
                          stats.end), (10, 3, 0, "frames"))
        self.assertEqual(stats.returns, [0.0, 1.0, 1.0])
        self.assertEqual(env.resets, 4)  # the first + after 3 episode ends
        self.assertTrue(self.fake.wait_finished(1))  # the stream was closed

    def test_features_from_first_observation(self):
        self.run_env(Corridor(obs="grid", space=False), frames=6)
        spec = self.fake.streams[0][0].open.observation_spec
        self.assertEqual(spec.kind, pb.OBSERVATION_KIND_FEATURES)
        self.assertEqual(list(spec.shape), [2, 3])
        self.check_steps(self.steps(0), "grid")

    def test_spikes_bit_packed(self):
        self.run_env(Corridor(obs="bits"), frames=6, kind="spikes")
        spec = self.fake.streams[0][0].open.observation_spec
        self.assertEqual(spec.kind, pb.OBSERVATION_KIND_SPIKES)
        self.assertEqual(list(spec.shape), [11])
        self.check_steps(self.steps(0), "bits")

    def test_bool_defaults_to_features(self):
        self.run_env(Corridor(obs="bits"), frames=2)
        spec = self.fake.streams[0][0].open.observation_spec
        self.assertEqual(spec.kind, pb.OBSERVATION_KIND_FEATURES)
        np.testing.assert_array_equal(
            self.steps(0)[0].features,
            Corridor.observe("bits", 2).astype(np.float32))

    def test_rgb_bytes(self):
        self.run_env(Corridor(obs="rgb", space=False), frames=6)
        spec = self.fake.streams[0][0].open.observation_spec
        self.assertEqual(spec.kind, pb.OBSERVATION_KIND_RGB_FRAME)
        self.assertEqual(list(spec.shape), [2, 3, 3])
        self.check_steps(self.steps(0), "rgb")

    def test_old_gym_api_and_truncation(self):
        # Episode 1: 3, 2, 1 (truncated after 3 steps); episode 2: 3, 4 ...
        for old_api in (True, False):
            with self.subTest(old_api=old_api):
                stream = len(self.fake.streams)
                stats = self.run_env(Corridor(old_api=old_api, max_steps=3),
                                     frames=10)
                steps = self.steps(stream)
                self.check_steps(steps, "onehot", max_steps=3)
                self.assertTrue(any(s.truncated for s in steps))
                self.assertEqual(stats.episodes,
                                 sum(s.terminated or s.truncated
                                     for s in steps))

    def test_reconnect_after_unavailable(self):
        self.fake.aborts[(0, 4)] = (grpc.StatusCode.UNAVAILABLE, "restarting")
        env = Corridor()
        stats = self.run_env(env, frames=8)
        self.assertEqual(len(self.fake.streams), 2)
        open0, open1 = (s[0].open for s in self.fake.streams)
        self.assertRegex(open1.run_id, r"^[0-9a-f]{16}$")
        self.assertNotEqual(open0.run_id, open1.run_id)
        # Stream 0 got 3 actions (its 4th step was aborted); stream 1 starts
        # over from a reset environment at sequence number 0.
        self.assertEqual(len(self.steps(0)), 4)
        steps = self.steps(1)
        self.assertEqual(len(steps), 5)
        self.check_steps(steps, "onehot")
        self.assertEqual((stats.frames, stats.reconnects, stats.end),
                         (8, 1, "frames"))
        # The episode cut by the reconnect is dropped; stream 1 goes from 2
        # to 0 (return 0) in its first four actions.
        self.assertEqual(stats.returns, [0.0])

    def test_cancelled_stops_cleanly(self):
        self.fake.aborts[(0, 3)] = (grpc.StatusCode.CANCELLED, "job ended")
        stats = self.run_env(Corridor())
        self.assertEqual(len(self.fake.streams), 1)
        self.assertEqual((stats.frames, stats.end, stats.reconnects),
                         (2, "job ended", 0))

    def test_stream_errors_are_fatal(self):
        for code in (grpc.StatusCode.NOT_FOUND,
                     grpc.StatusCode.FAILED_PRECONDITION):
            with self.subTest(code=code):
                self.fake.aborts[(len(self.fake.streams), 0)] = (code, "nope")
                with self.assertRaises(eprop_env.StreamError) as e:
                    self.run_env(Corridor())
                self.assertEqual(e.exception.code, code)
                self.assertIn("job-000007", str(e.exception))
                self.assertIn("nope", str(e.exception))

    def test_rejections(self):
        self.fake.rejects[(0, 0)] = (9, "observation spec differs")
        with self.assertRaises(eprop_env.RejectedError) as e:
            self.run_env(Corridor())
        self.assertEqual(e.exception.code, 9)
        self.assertIn("open", str(e.exception))
        self.assertIn("observation spec differs", str(e.exception))

        self.fake.rejects[(1, 3)] = (3, "bad observation")
        with self.assertRaises(eprop_env.RejectedError) as e:
            self.run_env(Corridor())
        self.assertEqual(e.exception.code, 3)
        self.assertIn("step 2", str(e.exception))
        self.assertEqual(e.exception.stats.frames, 2)

    def test_stop_event(self):
        stop = threading.Event()
        env = Corridor()
        original_step = env.step

        def step(action):
            if env.t >= 1 and len(self.fake.streams[0]) > 20:
                stop.set()
            return original_step(action)

        env.step = step
        stats = self.run_env(env, stop_event=stop)
        self.assertEqual(stats.end, "stopped")
        self.assertGreaterEqual(stats.frames, 20)
        self.assertTrue(self.fake.wait_finished(1))

    def test_answer_timeout_and_retries(self):
        self.fake.hangs.add((0, 1))
        with self.assertRaises(eprop_env.StreamError) as e:
            self.run_env(Corridor(), answer_timeout_s=0.3, max_retries=0)
        self.assertEqual(e.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertIn("no answer", str(e.exception))

    def test_unreachable_server(self):
        with self.assertRaises(eprop_env.StreamError) as e:
            eprop_env.run(Corridor(), server="127.0.0.1:1", job="j",
                          max_retries=2)
        self.assertEqual(e.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(e.exception.stats.reconnects, 2)

    def test_token_metadata(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "token")
            with open(path, "w") as f:
                f.write("s3cret-token\n")
            self.run_env(Corridor(), frames=1, token_file=path)
        self.assertIn(("authorization", "Bearer s3cret-token"),
                      self.fake.metadata[0])

    def test_environment_must_fit(self):
        env = Corridor()
        del env.action_space
        with self.assertRaisesRegex(ValueError, "action_space.n"):
            self.run_env(env)
        with self.assertRaisesRegex(ValueError, "rgb"):
            self.run_env(Corridor(), kind="rgb")
        with self.assertRaisesRegex(ValueError, "0 and 1"):
            self.run_env(Corridor(obs="grid"), kind="spikes")
        self.assertEqual(self.fake.streams, [])  # nothing was sent

    def cli(self, *args):
        return cli.main(["--server", self.address, "--job", "job-000007",
                         "--env", f"{__name__}:make_corridor",
                         "--progress", "0", *args])

    def test_cli(self):
        self.assertEqual(self.cli("--count", "2", "--frames", "6",
                                  "--name", "c"), 0)
        self.assertEqual(len(self.fake.streams), 2)
        self.assertEqual(sorted(s[0].open.name for s in self.fake.streams),
                         ["c#0", "c#1"])
        self.assertEqual([len(s) for s in self.fake.streams], [7, 7])

        self.fake.aborts[(2, 2)] = (grpc.StatusCode.CANCELLED, "cancelled")
        self.assertEqual(self.cli(), 0)
        self.fake.aborts[(3, 0)] = (grpc.StatusCode.NOT_FOUND, "no such job")
        self.assertEqual(self.cli(), 1)
        self.assertEqual(cli.main(["--job", "j", "--env", "no_such_module:f",
                                   "--progress", "0"]), 1)


class WithoutStubsTest(unittest.TestCase):
    """Importing needs no stubs; using them fails with a clear message."""

    def test_import_without_stubs(self):
        script = (
            "import sys, eprop_env\n"
            "eprop_env.ObservationFormat('features', (2,)).encode([1, 2])\n"
            "try:\n"
            "    eprop_env.run(object(), job='j')\n"
            "except ImportError as e:\n"
            "    print('IMPORT-ERROR', e)\n")
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, PYTHONPATH=CLIENT_DIR)
            out = subprocess.run([sys.executable, "-c", script], cwd=tmp,
                                 env=env, capture_output=True, text=True,
                                 timeout=TIMEOUT_S)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("IMPORT-ERROR", out.stdout)
            self.assertIn("stubs", out.stdout)
            self.assertIn("PYTHONPATH", out.stdout)
            usage = subprocess.run(
                [sys.executable, "-m", "eprop_env", "--help"], cwd=tmp,
                env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
            self.assertEqual(usage.returncode, 0, usage.stderr)
            self.assertIn("--env MODULE:FACTORY", usage.stdout)


class FormatTest(unittest.TestCase):
    """Observation formats without a server."""

    def test_encodings(self):
        env = types.SimpleNamespace()
        fmt = eprop_env.infer_format(env, np.zeros((4, 5, 3), np.uint8))
        self.assertEqual((fmt.kind, fmt.shape), ("rgb", (4, 5, 3)))
        fmt = eprop_env.infer_format(env, 3.5)
        self.assertEqual((fmt.kind, fmt.shape), ("features", (1,)))
        self.assertEqual(fmt.encode(3.5), {"features": [3.5]})
        bits = np.zeros(17, bool)
        bits[[0, 9, 16]] = True
        fmt = eprop_env.infer_format(env, bits, "spikes")
        self.assertEqual(fmt.encode(bits),
                         {"observation": bytes([1, 2, 1])})
        with self.assertRaisesRegex(ValueError, "does not match"):
            fmt.encode(np.zeros(16, bool))
        with self.assertRaisesRegex(ValueError, "non-finite"):
            eprop_env.ObservationFormat("features", (2,)).encode([1, np.nan])


if __name__ == "__main__":
    unittest.main()
