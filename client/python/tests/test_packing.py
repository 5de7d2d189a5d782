"""Unit tests of the spike bit-packing (no server needed).

    PYTHONPATH=client/python:build/python /usr/bin/python3 -m unittest \
        discover -s client/python/tests -v

The message-building tests run only when the generated stubs are importable
(build/python on PYTHONPATH); they are skipped otherwise.
"""

import unittest

import numpy as np

from eprop_client import pack_spikes, packed_size, unpack_spikes

try:
    from eprop.v1 import networks_pb2  # noqa: F401
    from eprop_client import client as client_mod
    HAVE_STUBS = True
except ImportError:
    HAVE_STUBS = False


class PackingTest(unittest.TestCase):

    def test_hand_checked_example(self):
        # steps 2, batch 2, n 3: rows r = step * batch + sample.
        # Bit k = r * 3 + i.
        a = np.zeros((2, 2, 3), dtype=bool)
        a[0, 0, 0] = True  # r 0, k 0  -> byte 0 bit 0
        a[0, 1, 2] = True  # r 1, k 5  -> byte 0 bit 5
        a[1, 0, 1] = True  # r 2, k 7  -> byte 0 bit 7
        a[1, 1, 0] = True  # r 3, k 9  -> byte 1 bit 1
        data = pack_spikes(a)
        self.assertEqual(data, bytes([0b10100001, 0b00000010]))
        np.testing.assert_array_equal(unpack_spikes(data, 2, 2, 3), a)

    def test_bit_formula(self):
        # Every single set bit lands at byte k // 8, bit k % 8.
        steps, batch, n = 3, 2, 5
        for t in range(steps):
            for b in range(batch):
                for i in range(n):
                    a = np.zeros((steps, batch, n), dtype=np.uint8)
                    a[t, b, i] = 1
                    k = (t * batch + b) * n + i
                    expected = bytearray(packed_size(steps, batch, n))
                    expected[k // 8] = 1 << (k % 8)
                    self.assertEqual(pack_spikes(a), bytes(expected))

    def test_round_trip_random(self):
        rng = np.random.default_rng(7)
        for shape in [(1, 1, 1), (1, 1, 8), (5, 3, 7), (250, 64, 40),
                      (13, 1, 100), (2, 5, 9)]:
            a = rng.random(shape) < 0.3
            data = pack_spikes(a)
            self.assertEqual(len(data), packed_size(*shape))
            np.testing.assert_array_equal(unpack_spikes(data, *shape), a)
            # uint8 and int input pack the same as bool.
            self.assertEqual(pack_spikes(a.astype(np.uint8)), data)
            self.assertEqual(pack_spikes(a.astype(np.int64)), data)

    def test_padding_is_zero_and_ignored(self):
        a = np.ones((1, 1, 3), dtype=bool)
        self.assertEqual(pack_spikes(a), bytes([0b00000111]))
        # Garbage in the padding bits does not leak into the result.
        np.testing.assert_array_equal(
            unpack_spikes(bytes([0xFF]), 1, 1, 3), a)

    def test_empty(self):
        a = np.zeros((0, 4, 3), dtype=bool)
        self.assertEqual(pack_spikes(a), b"")
        self.assertEqual(unpack_spikes(b"", 0, 4, 3).shape, (0, 4, 3))

    def test_errors(self):
        with self.assertRaises(ValueError):
            pack_spikes(np.zeros((2, 3)))  # not 3-D
        with self.assertRaises(ValueError):
            pack_spikes(np.full((1, 1, 2), 2, dtype=np.uint8))  # not 0/1
        with self.assertRaises(ValueError):
            unpack_spikes(b"\x00", 2, 2, 3)  # needs 2 bytes
        with self.assertRaises(ValueError):
            unpack_spikes(b"\x00\x00\x00", 2, 2, 3)


@unittest.skipUnless(HAVE_STUBS, "generated stubs not on PYTHONPATH")
class ChunkMessageTest(unittest.TestCase):

    def build(self, inputs, **kw):
        return client_mod._build_chunk(
            5, inputs.shape[1], kw.get("n_in", inputs.shape[2]), 2, inputs,
            kw.get("targets"),
            kw.get("labels"), kw.get("mask"), kw.get("output_error"),
            kw.get("reset_state", False), kw.get("end_of_sequence", False),
            kw.get("apply_update", False), kw.get("encoding"))

    def test_packed_inputs_and_classification(self):
        rng = np.random.default_rng(1)
        x = rng.random((4, 3, 10)) < 0.5
        labels = rng.integers(0, 2, (4, 3))
        mask = np.zeros((4, 3), dtype=bool)
        mask[-1] = True
        c = self.build(x, labels=labels, mask=mask, reset_state=True,
                       end_of_sequence=True)
        c = type(c).FromString(c.SerializeToString())
        self.assertEqual(c.sequence_number, 5)
        self.assertEqual(c.steps, 4)
        self.assertTrue(c.reset_state and c.end_of_sequence)
        self.assertFalse(c.apply_update)
        self.assertEqual(c.inputs.WhichOneof("encoding"), "packed")
        np.testing.assert_array_equal(
            unpack_spikes(c.inputs.packed, 4, 3, 10), x)
        self.assertEqual(c.targets.WhichOneof("kind"), "classification")
        self.assertEqual(list(c.targets.classification.labels),
                         labels.reshape(-1).tolist())
        self.assertEqual(list(c.targets.classification.mask),
                         mask.reshape(-1).tolist())

    def test_labels_without_mask_and_no_targets(self):
        x = np.zeros((2, 1, 3), dtype=bool)
        c = self.build(x, labels=np.ones((2, 1), dtype=int))
        self.assertEqual(c.targets.WhichOneof("kind"), "classification")
        self.assertEqual(len(c.targets.classification.mask), 0)
        c = self.build(x)
        self.assertFalse(c.HasField("targets"))

    def test_dense_events_regression(self):
        x = np.arange(12, dtype=np.float64).reshape(2, 2, 3) / 10
        y = np.ones((2, 2, 2), dtype=np.float32)
        c = self.build(x, targets=y)
        self.assertEqual(c.inputs.WhichOneof("encoding"), "dense")
        np.testing.assert_allclose(c.inputs.dense.values,
                                   x.reshape(-1).astype(np.float32))
        self.assertEqual(c.targets.WhichOneof("kind"), "regression")
        c = self.build(x, output_error=y)
        self.assertEqual(c.targets.WhichOneof("kind"), "output_error")
        s = np.zeros((2, 2, 3), dtype=bool)
        s[1, 0, 2] = s[0, 1, 1] = True
        c = self.build(s, encoding="events")
        self.assertEqual(list(c.inputs.events.rows), [1, 2])  # rows t*B+b
        self.assertEqual(list(c.inputs.events.inputs), [1, 2])

    def test_bad_arguments(self):
        x = np.zeros((2, 2, 3), dtype=bool)
        with self.assertRaises(ValueError):
            self.build(np.zeros((2, 2, 4), dtype=bool), n_in=3)
        with self.assertRaises(ValueError):
            self.build(x, labels=np.zeros((2, 2), int),
                       targets=np.zeros((2, 2, 2)))
        with self.assertRaises(ValueError):
            self.build(x, mask=np.ones((2, 2), bool))
        with self.assertRaises(ValueError):
            self.build(x, labels=np.zeros((2, 3), int))
        with self.assertRaises(ValueError):
            self.build(np.full((2, 2, 3), 3, dtype=np.int32))

    def test_enum_names(self):
        spec = client_mod.make_spec("evidence_accumulation", "eprop_random",
                                    seed=3, n_lif=10, n_alif=0, batch_size=8)
        self.assertEqual(spec.task, 1)
        self.assertEqual(spec.algorithm, 3)
        self.assertEqual(spec.seed, 3)
        self.assertTrue(spec.network.HasField("n_alif"))
        self.assertFalse(spec.network.HasField("tau_m_ms"))
        self.assertEqual(spec.schedule.batch_size, 8)
        with self.assertRaises(ValueError):
            client_mod.make_spec("nope")


if __name__ == "__main__":
    unittest.main()
