"""Runs gymnasium-style environments against an RL job of eprop-server.

    import eprop_env
    stats = eprop_env.run(MyEnv(), server="127.0.0.1:50051", job="job-000001",
                          frames=10000)
    stats.frames, stats.episodes, stats.returns, stats.reconnects

or from the command line (see ``python3 -m eprop_env --help``):

    python3 -m eprop_env --server 127.0.0.1:50051 --job job-000001 \\
        --env mymodule:make_env --count 4

Importing needs only numpy; ``run`` needs grpcio and the generated stubs
(``PYTHONPATH=client/python:build/python``).
"""

from .adapter import (KINDS, EnvAdapterError, ObservationFormat,
                      RejectedError, Stats, StreamError, infer_format, run)

__all__ = ["run", "Stats", "ObservationFormat", "infer_format", "KINDS",
           "EnvAdapterError", "RejectedError", "StreamError"]
