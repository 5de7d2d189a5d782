"""Python client of eprop-server (``proto/eprop/v1``), numpy in and out.

    from eprop_client import Client
    with Client("127.0.0.1:50051") as client:
        net = client.create_network(task="evidence_accumulation", seed=1)
        with client.session(net.network_id, batch_size=64) as s:
            r = s.send(spikes, labels=labels, mask=mask,
                       reset_state=True, end_of_sequence=True)
            r.outputs  # [steps, batch, n_out]

The gRPC parts need the generated stubs on ``sys.path``
(``PYTHONPATH=client/python:build/python`` after building the target
``eprop_python_stubs``). ``pack_spikes`` and ``unpack_spikes`` need only
numpy and are importable without them.
"""

from .packing import pack_spikes, packed_size, unpack_spikes

__all__ = [
    "Client", "Session", "ChunkResult", "EpropError", "RpcError",
    "SessionError", "make_spec", "pack_spikes", "unpack_spikes",
    "packed_size",
]

_CLIENT_NAMES = {"Client", "Session", "ChunkResult", "EpropError", "RpcError",
                 "SessionError", "make_spec"}


def __getattr__(name):
    # The gRPC client is imported on first use, so that the packing helpers
    # work without grpc and the generated stubs.
    if name in _CLIENT_NAMES:
        from . import client
        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
