"""The client against an in-process fake NetworkService (no eprop-server).

Checks the wire protocol as the client speaks it: the bearer token on every
call, the session's opening, chunk encoding and result decoding, per-chunk
rejections (the stream stays usable), a fatal stream error, a clean close,
and export/import chunking. Skipped without the generated stubs.
"""

import os
import tempfile
import threading
import unittest
from concurrent import futures

import numpy as np

from eprop_client import pack_spikes, unpack_spikes

try:
    import grpc
    from eprop.v1 import jobs_pb2, networks_pb2, networks_pb2_grpc
    from eprop_client import Client, EpropError, RpcError, SessionError
    HAVE_STUBS = True
except ImportError:
    HAVE_STUBS = False

TOKEN = "s3cret-token"
N_IN, N_REC, N_OUT = 40, 12, 2

if HAVE_STUBS:

    class FakeNetworks(networks_pb2_grpc.NetworkServiceServicer):
        """Outputs of row r: [number of input spikes, r]; spikes of row r:
        neuron i fires iff input i fired; learning signal = rows' label."""

        def __init__(self):
            self.networks = {}
            self.file = bytes(range(256)) * 9000  # > 2 MiB
            self.imported = None
            self.closed_sessions = 0
            self.lock = threading.Lock()

        def _auth(self, context):
            md = dict(context.invocation_metadata())
            if md.get("authorization") != "Bearer " + TOKEN:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")

        def _network(self, spec, source=""):
            with self.lock:
                nid = f"net-{len(self.networks) + 1:06d}"
                net = networks_pb2.Network(network_id=nid, spec=spec,
                                           n_in=N_IN, n_rec=N_REC, n_out=N_OUT,
                                           source_job_id=source)
                self.networks[nid] = net
                return net

        def CreateNetwork(self, request, context):
            self._auth(context)
            if request.HasField("from_job_id"):
                return self._network(jobs_pb2.JobSpec(task=1),
                                     request.from_job_id)
            if request.spec.task == 0:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "task")
            return self._network(request.spec)

        def GetNetwork(self, request, context):
            self._auth(context)
            if request.network_id not in self.networks:
                context.abort(grpc.StatusCode.NOT_FOUND, request.network_id)
            return self.networks[request.network_id]

        def ListNetworks(self, request, context):
            self._auth(context)
            ids = sorted(self.networks)
            start = int(request.page_token or 0)
            page = ids[start:start + 2]  # tiny pages to test paging
            nxt = str(start + 2) if start + 2 < len(ids) else ""
            return networks_pb2.ListNetworksResponse(
                networks=[self.networks[i] for i in page], next_page_token=nxt)

        def DeleteNetwork(self, request, context):
            self._auth(context)
            self.networks.pop(request.network_id, None)
            return networks_pb2.DeleteNetworkResponse()

        def ExportNetwork(self, request, context):
            self._auth(context)
            step = 1 << 20
            for off in range(0, len(self.file), step):
                yield networks_pb2.NetworkChunk(
                    data=self.file[off:off + step], offset_bytes=off,
                    total_bytes=len(self.file))

        def ImportNetwork(self, request_iterator, context):
            self._auth(context)
            first = next(request_iterator)
            data = b"".join(r.data for r in request_iterator)
            self.imported = (first.spec, data)
            return self._network(first.spec)

        def Session(self, request_iterator, context):
            self._auth(context)
            first = next(request_iterator)
            op = first.open
            batch = op.batch_size
            yield networks_pb2.SessionResponse(
                opened=self.networks[op.network_id])
            for req in request_iterator:
                c = req.chunk
                rows = c.steps * batch
                if c.steps == 99:
                    context.abort(grpc.StatusCode.INTERNAL, "boom")
                which = c.inputs.WhichOneof("encoding")
                if which == "packed":
                    if len(c.inputs.packed) != (rows * N_IN + 7) // 8:
                        yield networks_pb2.SessionResponse(
                            status_code=3, status_message="packed size")
                        continue
                    x = unpack_spikes(c.inputs.packed, c.steps, batch, N_IN)
                    x = x.reshape(rows, N_IN).astype(np.float32)
                elif which == "dense":
                    x = np.asarray(c.inputs.dense.values,
                                   np.float32).reshape(rows, N_IN)
                else:
                    x = np.zeros((rows, N_IN), np.float32)
                    x[list(c.inputs.events.rows),
                      list(c.inputs.events.inputs)] = 1
                labels = np.zeros(rows, np.float32)
                loss = 0.0
                if c.targets.WhichOneof("kind") == "classification":
                    cls = c.targets.classification
                    if any(v < 0 or v >= N_OUT for v in cls.labels):
                        yield networks_pb2.SessionResponse(
                            status_code=3,
                            status_message="labels must be in [0, 2)")
                        continue
                    labels = np.asarray(cls.labels, np.float32)
                    mask = (np.asarray(cls.mask, bool) if len(cls.mask)
                            else np.ones(rows, bool))
                    loss = float(mask.sum())
                out = np.stack([x.sum(axis=1),
                                np.arange(rows, dtype=np.float32)], axis=1)
                spikes = x[:, :N_REC] > 0
                r = networks_pb2.ChunkResult(
                    sequence_number=c.sequence_number, steps=c.steps,
                    outputs=out.reshape(-1).tolist(), loss=loss,
                    updates=c.sequence_number, updated=c.end_of_sequence)
                if op.return_spikes:
                    r.spikes = pack_spikes(spikes.reshape(c.steps, batch,
                                                          N_REC))
                if op.return_learning_signals:
                    r.learning_signals.extend(
                        np.repeat(labels, N_REC).tolist())
                if op.return_rates:
                    r.rates_hz.extend(
                        (1000 * spikes.mean(axis=0)).tolist())
                yield networks_pb2.SessionResponse(result=r)
            with self.lock:
                self.closed_sessions += 1


@unittest.skipUnless(HAVE_STUBS, "generated stubs not on PYTHONPATH")
class FakeServerTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeNetworks()
        cls.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        networks_pb2_grpc.add_NetworkServiceServicer_to_server(cls.fake,
                                                               cls.server)
        port = cls.server.add_insecure_port("127.0.0.1:0")
        cls.server.start()
        cls.address = f"127.0.0.1:{port}"
        cls.tmp = tempfile.TemporaryDirectory()
        cls.token_file = os.path.join(cls.tmp.name, "token")
        with open(cls.token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.client = Client(cls.address, token_file=cls.token_file,
                            timeout_s=10)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop(None)
        cls.tmp.cleanup()

    def test_token_required(self):
        with Client(self.address, timeout_s=5) as anonymous:
            with self.assertRaises(RpcError) as e:
                anonymous.create_network(task="evidence_accumulation")
            self.assertEqual(e.exception.code, grpc.StatusCode.UNAUTHENTICATED)

    def test_networks(self):
        net = self.client.create_network(task="evidence_accumulation",
                                         algorithm="eprop_symmetric", seed=4,
                                         n_lif=7, batch_size=16)
        self.assertEqual(net.spec.algorithm, 2)
        self.assertEqual(net.spec.network.n_lif, 7)
        self.assertFalse(net.spec.network.HasField("n_alif"))
        self.assertEqual(self.client.get_network(net.network_id), net)
        for _ in range(3):
            self.client.create_network()
        ids = [n.network_id for n in self.client.list_networks()]
        self.assertEqual(ids, sorted(self.fake.networks))  # all pages
        from_job = self.client.create_network(from_job_id="job-000001")
        self.assertEqual(from_job.source_job_id, "job-000001")
        with self.assertRaises(RpcError) as e:
            self.client.get_network("net-999999")
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        self.client.delete_network(net.network_id)
        self.assertNotIn(net.network_id, self.fake.networks)

    def test_export_import(self):
        path = os.path.join(self.tmp.name, "net.eprop")
        n = self.client.export_network("net-000001", path)
        self.assertEqual(n, len(self.fake.file))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), self.fake.file)
        net = self.client.import_network(path, {"task": "evidence_accumulation",
                                                "seed": 9})
        spec, data = self.fake.imported
        self.assertEqual(data, self.fake.file)
        self.assertEqual(spec.seed, 9)
        self.assertEqual(net.spec.seed, 9)

    def test_session(self):
        net = self.client.create_network()
        rng = np.random.default_rng(3)
        steps, batch = 7, 3
        x = rng.random((steps, batch, N_IN)) < 0.3
        labels = rng.integers(0, 2, (steps, batch))
        mask = np.zeros((steps, batch), bool)
        mask[-2:] = True
        closed = self.fake.closed_sessions
        with self.client.session(net.network_id, batch, return_spikes=True,
                                 return_learning_signals=True,
                                 return_rates=True) as s:
            self.assertEqual((s.n_in, s.n_rec, s.n_out), (N_IN, N_REC, N_OUT))
            r = s.send(x, labels=labels, mask=mask, reset_state=True)
            self.assertEqual(r.sequence_number, 0)
            self.assertEqual(r.outputs.shape, (steps, batch, N_OUT))
            np.testing.assert_array_equal(r.outputs[:, :, 0], x.sum(axis=2))
            # Row r = step * batch + sample.
            np.testing.assert_array_equal(
                r.outputs[:, :, 1],
                np.arange(steps * batch).reshape(steps, batch))
            np.testing.assert_array_equal(r.spikes, x[:, :, :N_REC])
            np.testing.assert_array_equal(
                r.learning_signals,
                np.repeat(labels[:, :, None], N_REC, axis=2))
            np.testing.assert_allclose(
                r.rates_hz, 1000 * x[:, :, :N_REC].mean(axis=(0, 1)),
                rtol=1e-6)
            self.assertEqual(r.loss, 6.0)
            self.assertFalse(r.updated)

            # A rejected chunk raises and leaves the stream usable.
            with self.assertRaises(SessionError) as e:
                s.send(x, labels=np.full((steps, batch), 5))
            self.assertEqual(e.exception.code, 3)
            self.assertEqual(e.exception.status,
                             grpc.StatusCode.INVALID_ARGUMENT)

            dense = rng.random((steps, batch, N_IN)).astype(np.float32)
            r = s.send(dense, end_of_sequence=True)
            self.assertEqual(r.sequence_number, 2)
            self.assertTrue(r.updated)
            np.testing.assert_allclose(r.outputs[:, :, 0], dense.sum(axis=2),
                                       rtol=1e-5)
            r = s.send(x.astype(np.uint8), encoding="events")
            np.testing.assert_array_equal(r.outputs[:, :, 0], x.sum(axis=2))
            with self.assertRaises(ValueError):  # wrong batch, not sent
                s.send(np.zeros((2, batch + 1, N_IN), bool))
        self.assertTrue(s._closed)
        # The server saw the end of the request stream.
        for _ in range(100):
            if self.fake.closed_sessions > closed:
                break
            threading.Event().wait(0.01)
        self.assertGreater(self.fake.closed_sessions, closed)

    def test_fatal_stream_error(self):
        net = self.client.create_network()
        s = self.client.session(net.network_id, 1)
        with self.assertRaises(RpcError) as e:
            s.send(np.zeros((99, 1, N_IN), bool))
        self.assertEqual(e.exception.code, grpc.StatusCode.INTERNAL)
        self.assertIn("boom", e.exception.message)
        with self.assertRaises(EpropError):
            s.send(np.zeros((1, 1, N_IN), bool))
        s.close()  # no-op after a fatal error

    def test_unreachable(self):
        with Client("127.0.0.1:1", timeout_s=0.5) as c:
            with self.assertRaises(RpcError) as e:
                c.session("net-000001", 1)
            self.assertEqual(e.exception.code, grpc.StatusCode.UNAVAILABLE)


if __name__ == "__main__":
    unittest.main()
