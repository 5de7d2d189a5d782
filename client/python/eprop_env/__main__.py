"""Command line of eprop_env: ``python3 -m eprop_env --help``."""

import argparse
import importlib
import logging
import os
import sys
import threading
import time

from .adapter import KINDS, Stats, _stubs, read_token, run

log = logging.getLogger("eprop_env")

DESCRIPTION = """\
Connects gymnasium-style environments to an RL job of eprop-server
(EnvironmentService.ConnectEnvironment): each environment streams its
observations and rewards to the job and steps with the job's actions, while
the job's spiking network learns online with reward-based e-prop.

The environment is built by calling FACTORY (no arguments) from MODULE,
given as --env MODULE:FACTORY (MODULE is imported from the current
directory or PYTHONPATH). It needs reset() returning obs or (obs, info),
step(action) returning (obs, reward, terminated, truncated, info)
(gymnasium) or (obs, reward, done, info) (gym), and discrete actions
(action_space.n). The observation spec's shape is observation_space.shape,
or the shape of the first observation; its kind is rgb for uint8 arrays of
shape [H, W, 3], features (float32) otherwise; --kind overrides it."""

EPILOG = """\
behaviour:
  Each connection resets the environment and opens the stream with a fresh
  run id. A step carries the observation and the reward and terminated /
  truncated flags of the previous action; after an episode ends the
  environment is reset and the reset observation carries the ended flags.
  UNAVAILABLE (server down or restarting), or no answer within 60 s,
  reconnects with exponential backoff and jitter (0.1 s doubling to 5 s).
  A message rejected by the server (e.g. a spec that differs from the
  job's), an unknown job (NOT_FOUND), a job that is not running
  (FAILED_PRECONDITION) or another stream error stops every environment.
  Progress goes to stderr.

exit status:
  0  every environment finished: its --frames were done, or the job ended
     or was cancelled (the server ended the stream with CANCELLED)
  1  an error (rejected message, unknown or finished job, bad token,
     unusable environment, missing grpc stubs, ...)
  2  bad arguments
  130  interrupted (Ctrl-C)

example:
  PYTHONPATH=client/python:build/python /usr/bin/python3 -m eprop_env \\
      --server 127.0.0.1:50051 --job job-000001 --env mygames:make_env \\
      --count 4 --token-file token.txt"""


def load_factory(spec):
    """The callable named by "module:attribute" (attribute may be dotted)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--env {spec!r}: expected MODULE:FACTORY")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"--env {spec!r} is not callable")
    return obj


def parse_args(argv=None):
    def positive(text):
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"{text} is not >= 1")
        return value

    p = argparse.ArgumentParser(
        prog="python3 -m eprop_env", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", metavar="HOST:PORT",
                   default=os.environ.get("EPROP_SERVER", "127.0.0.1:50051"),
                   help="the eprop-server address (default: $EPROP_SERVER, "
                        "else 127.0.0.1:50051)")
    p.add_argument("--job", required=True, metavar="ID",
                   help="the RL job to connect to (required)")
    p.add_argument("--env", required=True, metavar="MODULE:FACTORY",
                   help="builds one environment per call (required)")
    p.add_argument("--count", type=positive, default=1, metavar="N",
                   help="environments to run, each in its own thread with "
                        "its own stream (default 1)")
    p.add_argument("--frames", type=int, default=None, metavar="N",
                   help="stop each environment after N actions (default: "
                        "until the job ends)")
    p.add_argument("--token-file", metavar="F",
                   help="file holding the bearer token, sent as "
                        "'authorization: Bearer <token>'")
    p.add_argument("--tls-ca", metavar="F",
                   help="PEM of the CA of the server's certificate (TLS; "
                        "default: plaintext)")
    p.add_argument("--name", default="", metavar="NAME",
                   help="label for the server's logs (default: the --env "
                        "value); '#i' is appended with --count > 1")
    p.add_argument("--kind", choices=list(KINDS), default=None,
                   help="observation kind: features (float32 values), "
                        "spikes (binary values, bit-packed) or rgb (uint8 "
                        "[H, W, 3]); default: inferred as described above")
    p.add_argument("--progress", type=float, default=5.0, metavar="SECONDS",
                   help="progress report interval on stderr (default 5; "
                        "0: none)")
    args = p.parse_args(argv)
    if args.frames is not None and args.frames < 0:
        p.error("--frames must be >= 0")
    return args


def progress_line(stats, elapsed_s, new_frames, interval_s):
    """One progress report over the environments' ``stats``."""
    recent = [r for s in stats for r in s.returns[-100:]]
    mean = (f"{sum(recent) / len(recent):.3f}" if recent else "n/a")
    return (f"{sum(s.frames for s in stats)} frames "
            f"({new_frames / interval_s:.1f}/s), "
            f"{sum(s.episodes for s in stats)} episodes, mean return of the "
            f"last 100 per env {mean}, "
            f"{sum(s.reconnects for s in stats)} reconnects, "
            f"{elapsed_s:.0f} s")


def main(argv=None):
    """Runs the command line; returns the exit status."""
    args = parse_args(argv)
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("eprop_env: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    try:
        _stubs()
        token = read_token(args.token_file) if args.token_file else None
        factory = load_factory(args.env)
        envs = [factory() for _ in range(args.count)]
    except Exception as e:  # noqa: BLE001 -- report any set-up failure
        log.error("%s", e)
        return 1

    stop = threading.Event()
    stats = [Stats() for _ in envs]
    errors = []

    def worker(i):
        name = args.name or args.env
        if args.count > 1:
            name = f"{name}#{i}"
        try:
            run(envs[i], server=args.server, job=args.job, frames=args.frames,
                stop_event=stop, token=token, tls_ca=args.tls_ca,
                name=name[:200], kind=args.kind, stats=stats[i])
        except Exception as e:  # noqa: BLE001 -- reported, stops the others
            errors.append(e)
            log.error("%s: %s", name, e)
            stop.set()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(len(envs))]
    for t in threads:
        t.start()
    start = last = time.monotonic()
    last_frames = 0
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
                now = time.monotonic()
                if args.progress > 0 and now - last >= args.progress:
                    frames = sum(s.frames for s in stats)
                    log.info("%s", progress_line(stats, now - start,
                                                 frames - last_frames,
                                                 now - last))
                    last, last_frames = now, frames
    except KeyboardInterrupt:
        log.warning("interrupted; closing the streams")
        stop.set()
        for t in threads:
            t.join(10)
        return 130
    now = time.monotonic()
    log.info("done: %s", progress_line(stats, now - start,
                                       sum(s.frames for s in stats),
                                       max(now - start, 1e-9)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
