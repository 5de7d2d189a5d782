"""Bit-packed spike arrays in the layout of ``eprop.v1.SpikeInputs.packed``.

A chunk of ``steps`` time steps for ``batch`` sequences with ``n`` channels
(inputs, or recurrent neurons in ``ChunkResult.spikes``) is a sequence of
``steps * batch`` rows; row ``r = step * batch + sample``. Bit ``i`` of row
``r`` is bit number ``k = r * n + i`` of the byte string: it lives in byte
``k // 8`` at bit position ``k % 8``, least significant bit first. The last
byte is padded with zero bits.

This is exactly numpy's C-order flattening of a ``[steps, batch, n]`` array
followed by ``np.packbits(..., bitorder="little")``. The module needs only
numpy (no gRPC), so it can be used and tested on its own.
"""

import numpy as np

__all__ = ["pack_spikes", "unpack_spikes", "packed_size"]


def packed_size(steps, batch, n):
    """Number of bytes of a packed ``[steps, batch, n]`` spike array."""
    return (int(steps) * int(batch) * int(n) + 7) // 8


def _as_spikes(spikes):
    """``spikes`` as a bool array, refusing values other than 0 and 1."""
    a = np.asarray(spikes)
    if a.dtype == np.bool_:
        return a
    if a.size and not np.all((a == 0) | (a == 1)):
        raise ValueError("spike arrays must hold only 0 and 1 (or bool)")
    return a.astype(np.bool_)


def pack_spikes(spikes):
    """Packs a ``[steps, batch, n]`` array of 0/1 (or bool) into bytes.

    Returns ``packed_size(steps, batch, n)`` bytes laid out as described in
    the module docstring.
    """
    a = _as_spikes(spikes)
    if a.ndim != 3:
        raise ValueError(
            f"spikes must have shape [steps, batch, n], got {a.shape}")
    return np.packbits(a.reshape(-1), bitorder="little").tobytes()


def unpack_spikes(data, steps, batch, n):
    """Unpacks bytes into a bool array of shape ``[steps, batch, n]``.

    ``data`` must hold exactly ``packed_size(steps, batch, n)`` bytes
    (ValueError otherwise); padding bits are ignored.
    """
    steps, batch, n = int(steps), int(batch), int(n)
    if steps < 0 or batch < 0 or n < 0:
        raise ValueError("steps, batch and n must be >= 0")
    buf = np.frombuffer(bytes(data), dtype=np.uint8)
    expected = packed_size(steps, batch, n)
    if buf.size != expected:
        raise ValueError(
            f"packed spikes of [{steps}, {batch}, {n}] need {expected} bytes, "
            f"got {buf.size}")
    bits = np.unpackbits(buf, count=steps * batch * n, bitorder="little")
    return bits.astype(np.bool_).reshape(steps, batch, n)
