"""End-to-end checks of the Python client against a real eprop-server.

Starts ``$EPROP_SERVER_BIN`` (default build/bin/eprop-server) on a
temporary data directory with a bearer token, then exercises networks,
sessions, rejections, export and import through ``eprop_client``.

    PYTHONPATH=client/python:build/python /usr/bin/python3 -m unittest \
        tests/python/test_session_e2e.py -v

Skipped when the server binary or the stubs are missing.
"""

import json
import os
import subprocess
import tempfile
import time
import unittest

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SERVER = os.environ.get("EPROP_SERVER_BIN",
                        os.path.join(ROOT, "build", "bin", "eprop-server"))

try:
    import grpc
    from eprop_client import Client, EpropError, RpcError, SessionError
    HAVE_STUBS = True
except ImportError:
    HAVE_STUBS = False

TOKEN = "e2e-token-0123456789"


def start_server(data_dir, token_file):
    proc = subprocess.Popen(
        [SERVER, f"--data_dir={data_dir}", "--port=0",
         f"--auth_token_file={token_file}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "listening":
            return proc, int(event["port"])
    proc.kill()
    raise RuntimeError("eprop-server did not report listening")


@unittest.skipUnless(HAVE_STUBS and os.access(SERVER, os.X_OK),
                     "needs the stubs and build/bin/eprop-server")
class SessionE2ETest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.token_file = os.path.join(cls.tmp.name, "token")
        with open(cls.token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.proc, port = start_server(os.path.join(cls.tmp.name, "data"),
                                      cls.token_file)
        cls.address = f"127.0.0.1:{port}"
        cls.client = Client(cls.address, token_file=cls.token_file,
                            timeout_s=30)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.proc.terminate()
        try:
            cls.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
        cls.proc.stderr.close()
        cls.tmp.cleanup()

    def small_network(self, **kw):
        return self.client.create_network(task="evidence_accumulation",
                                          seed=kw.pop("seed", 5), n_lif=10,
                                          n_alif=10, **kw)

    def test_token_required(self):
        with Client(self.address, timeout_s=10) as anonymous:
            with self.assertRaises(RpcError) as e:
                anonymous.list_networks()
            self.assertEqual(e.exception.code,
                             grpc.StatusCode.UNAUTHENTICATED)

    def test_network_lifecycle(self):
        net = self.small_network()
        self.assertTrue(net.network_id.startswith("net-"))
        self.assertEqual((net.n_in, net.n_rec, net.n_out), (40, 20, 2))
        self.assertEqual(self.client.get_network(net.network_id).network_id,
                         net.network_id)
        self.assertIn(net.network_id,
                      [n.network_id for n in self.client.list_networks()])
        self.client.delete_network(net.network_id)
        with self.assertRaises(RpcError) as e:
            self.client.get_network(net.network_id)
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_session_outputs_and_rejections(self):
        net = self.small_network()
        rng = np.random.default_rng(0)
        steps, batch = 50, 4
        x = rng.random((steps, batch, 40)) < 0.05
        labels = rng.integers(0, 2, (steps, batch))
        mask = np.zeros((steps, batch), bool)
        mask[-10:] = True
        with self.client.session(net.network_id, batch, return_spikes=True,
                                 return_learning_signals=True,
                                 return_rates=True) as s:
            r = s.send(x, labels=labels, mask=mask, reset_state=True)
            self.assertEqual(r.outputs.shape, (steps, batch, 2))
            self.assertEqual(r.spikes.shape, (steps, batch, 20))
            self.assertEqual(r.spikes.dtype, bool)
            self.assertEqual(r.learning_signals.shape, (steps, batch, 20))
            self.assertEqual(r.rates_hz.shape, (20,))
            np.testing.assert_allclose(
                r.rates_hz, 1000 * r.spikes.mean(axis=(0, 1)), rtol=1e-4,
                atol=1e-3)
            self.assertTrue(np.all(np.isfinite(r.outputs)))
            self.assertGreater(r.loss, 0)
            self.assertFalse(r.updated)
            # Learning signals vanish outside the masked steps.
            self.assertEqual(float(np.abs(r.learning_signals[:-10]).max()), 0)

            # A second learning session on the same network is refused.
            with self.assertRaises(EpropError):
                with self.client.session(net.network_id, batch):
                    pass
            # Deleting it while the session is open too.
            with self.assertRaises(RpcError) as e:
                self.client.delete_network(net.network_id)
            self.assertEqual(e.exception.code,
                             grpc.StatusCode.FAILED_PRECONDITION)

            # Rejected chunks leave the session usable.
            with self.assertRaises(SessionError) as e:
                s.send(x, labels=np.full((steps, batch), 7))
            self.assertEqual(e.exception.status,
                             grpc.StatusCode.INVALID_ARGUMENT)
            r = s.send(x, labels=labels, mask=mask, end_of_sequence=True)
            self.assertTrue(r.updated)
            self.assertEqual(r.updates, 1)
        self.assertEqual(self.client.get_network(net.network_id).updates, 1)

        # Inference: same inputs from a reset state give the same outputs as
        # packed, events and dense encodings.
        with self.client.session(net.network_id, batch, learning=False) as s:
            a = s.send(x, reset_state=True).outputs
            b = s.send(x, reset_state=True, encoding="events").outputs
            c = s.send(x.astype(np.float32), reset_state=True).outputs
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6)
            # Pipelined: posted ahead, received in order, same results.
            for encoding in (None, "events"):
                s.post(x, reset_state=True, encoding=encoding)
            with self.assertRaises(EpropError):
                s.send(x)
            np.testing.assert_array_equal(s.receive().outputs, a)
            np.testing.assert_array_equal(s.receive().outputs, b)
            with self.assertRaises(EpropError):
                s.receive()
        self.client.delete_network(net.network_id)

    def test_export_import(self):
        net = self.small_network(seed=11)
        path = os.path.join(self.tmp.name, "exported.eprop")
        size = self.client.export_network(net.network_id, path)
        self.assertEqual(size, os.path.getsize(path))
        self.assertGreater(size, 0)
        copy = self.client.import_network(path, net.spec)
        self.assertNotEqual(copy.network_id, net.network_id)
        x = np.random.default_rng(2).random((30, 2, 40)) < 0.1
        outs = []
        for nid in (net.network_id, copy.network_id):
            with self.client.session(nid, 2, learning=False) as s:
                outs.append(s.send(x, reset_state=True).outputs)
        np.testing.assert_array_equal(outs[0], outs[1])


if __name__ == "__main__":
    unittest.main()
