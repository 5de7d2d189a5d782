#!/usr/bin/python3
"""Evidence accumulation (paper Fig. 3) trained online through a session.

The client owns the data: it draws each batch of trials with numpy (the
constants of core/tasks/evidence_accumulation.h), creates a fresh network
on eprop-server, and streams every trial batch through one learning session
in chunks of --chunk-steps steps: the first chunk of a trial resets the
network state, the last one ends the sequence (the weight update is applied
there), and the classification targets are masked to the decision window
(the last 150 ms). The error of an iteration is the fraction of trials whose
readout, averaged over the decision window, has its maximum at the wrong
side; it is measured before that batch's update.

Stops when the mean error of the last 8 iterations is below --target-error
(exit 0) or after --iterations (exit 1).

    PYTHONPATH=client/python:build/python /usr/bin/python3 \
        client/python/examples/evidence_accumulation.py --server 127.0.0.1:50051
"""

import argparse
import os
import sys
import time

import numpy as np

# Run from a checkout without PYTHONPATH: the package next to this file and
# the stubs of build/python (if built there) are found.
_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (os.path.join(_HERE, "..", "..", "..", "build", "python"),
              os.path.join(_HERE, "..")):
    if os.path.isdir(_path) and os.path.abspath(_path) not in sys.path:
        sys.path.insert(0, os.path.abspath(_path))
from eprop_client import Client, EpropError  # noqa: E402

# The task's constants (core/tasks/evidence_accumulation.h; eprop-math.md
# section 8). dt = 1 ms, so milliseconds are steps.
N_CUES = 7
CUE_MS = 100
CUE_SPACING_MS = 150
AFTER_CUES_MS = 1200  # delay, then the recall window at the end
RECALL_MS = 150
INPUTS_PER_GROUP = 10  # groups: left cues, right cues, recall, background
CUE_RATE_HZ = 40.0
RECALL_RATE_HZ = 40.0
BACKGROUND_RATE_HZ = 10.0
P_MAJORITY = 0.7
STEPS = N_CUES * CUE_SPACING_MS + AFTER_CUES_MS  # 2250
N_IN = 4 * INPUTS_PER_GROUP
LEFT, RIGHT, RECALL, BACKGROUND = range(4)


def make_batch(rng, batch):
    """One batch of trials.

    Returns spikes bool [STEPS, batch, 40], labels int32 [STEPS, batch]
    (0 = left, 1 = right; the majority side of the cues), mask bool
    [STEPS, batch] (the last RECALL_MS steps) and the per-trial labels
    int32 [batch].
    """
    g = INPUTS_PER_GROUP
    # Per step and input, the firing probability rate * dt.
    p = np.zeros((STEPS, batch, N_IN), dtype=np.float32)
    p[:, :, BACKGROUND * g:(BACKGROUND + 1) * g] = BACKGROUND_RATE_HZ / 1000
    p[STEPS - RECALL_MS:, :, RECALL * g:(RECALL + 1) * g] = RECALL_RATE_HZ / 1000
    # Each trial: p_left = 0.7 or 0.3, then each cue is left with p_left.
    p_left = np.where(rng.random(batch) < 0.5, P_MAJORITY, 1 - P_MAJORITY)
    is_left = rng.random((N_CUES, batch)) < p_left
    for k in range(N_CUES):
        t0 = k * CUE_SPACING_MS
        for b in range(batch):
            side = LEFT if is_left[k, b] else RIGHT
            p[t0:t0 + CUE_MS, b, side * g:(side + 1) * g] = CUE_RATE_HZ / 1000
    spikes = rng.random(p.shape, dtype=np.float32) < p
    n_left = is_left.sum(axis=0)
    # With an even number of cues a tie counts as right (as in the C++ task).
    trial_labels = np.where(2 * n_left > N_CUES, 0, 1).astype(np.int32)
    labels = np.broadcast_to(trial_labels, (STEPS, batch)).copy()
    mask = np.zeros((STEPS, batch), dtype=bool)
    mask[STEPS - RECALL_MS:] = True
    return spikes, labels, mask, trial_labels


def run_trial_batch(session, spikes, labels, mask, trial_labels, chunk_steps):
    """Streams one batch of trials; returns (loss, error, updates).

    The server reports each chunk's loss as the mean over that chunk's
    masked rows, so the trial's loss is their mean weighted by the masked
    rows per chunk (independent of --chunk-steps).
    """
    steps, batch, _ = spikes.shape
    readout_sum = np.zeros((batch, session.n_out), dtype=np.float64)
    loss = 0.0
    result = None
    for t0 in range(0, steps, chunk_steps):
        t1 = min(t0 + chunk_steps, steps)
        result = session.send(spikes[t0:t1], labels=labels[t0:t1],
                              mask=mask[t0:t1], reset_state=(t0 == 0),
                              end_of_sequence=(t1 == steps))
        m = mask[t0:t1]
        loss += result.loss * m.sum()
        readout_sum += (result.outputs * m[:, :, None]).sum(axis=0)
    decision = np.argmax(readout_sum / mask.sum(axis=0)[:, None], axis=1)
    error = float(np.mean(decision != trial_labels))
    return loss / max(int(mask.sum()), 1), error, result.updates


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", default=os.environ.get("EPROP_SERVER",
                                                       "127.0.0.1:50051"))
    ap.add_argument("--token-file", default=None)
    ap.add_argument("--tls-ca", default=None)
    ap.add_argument("--iterations", type=int, default=1000,
                    help="at most this many trial batches (default 1000)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1,
                    help="seeds the network (server) and the trials (numpy)")
    ap.add_argument("--chunk-steps", type=int, default=250)
    ap.add_argument("--target-error", type=float, default=0.10,
                    help="stop when the mean error of the last 8 iterations "
                         "is below this (default 0.10)")
    ap.add_argument("--algorithm", default="eprop_random",
                    help="eprop_random, eprop_symmetric or eprop_adaptive")
    ap.add_argument("--print-every", type=int, default=1)
    ap.add_argument("--keep-network", action="store_true",
                    help="do not delete the network at the end")
    args = ap.parse_args(argv)
    if args.chunk_steps < 1 or args.batch < 1 or args.iterations < 1:
        ap.error("--chunk-steps, --batch and --iterations must be >= 1")

    rng = np.random.default_rng(args.seed)
    window = 8
    errors = []
    reached = False
    start = time.monotonic()
    try:
        with Client(args.server, token_file=args.token_file,
                    tls_ca=args.tls_ca) as client:
            net = client.create_network(task="evidence_accumulation",
                                        algorithm=args.algorithm,
                                        seed=args.seed, batch_size=args.batch,
                                        display_name="python example")
            print(f"network {net.network_id}: n_in {net.n_in}, n_rec "
                  f"{net.n_rec}, n_out {net.n_out}", flush=True)
            if net.n_in != N_IN:
                raise EpropError(f"the task has n_in = {net.n_in}, the "
                                 f"example generates {N_IN} inputs")
            try:
                with client.session(net.network_id, args.batch, learning=True,
                                    update_policy="end_of_sequence") as s:
                    for it in range(1, args.iterations + 1):
                        spikes, labels, mask, trial_labels = make_batch(
                            rng, args.batch)
                        loss, error, updates = run_trial_batch(
                            s, spikes, labels, mask, trial_labels,
                            args.chunk_steps)
                        errors.append(error)
                        mean = float(np.mean(errors[-window:]))
                        reached = (len(errors) >= window and
                                   mean < args.target_error)
                        if (it % args.print_every == 0 or reached or
                                it == args.iterations):
                            print(f"iteration {it:5d}  loss {loss:8.4f}  "
                                  f"error {100 * error:5.1f} %  mean{window} "
                                  f"{100 * mean:5.1f} %  updates {updates}  "
                                  f"elapsed {time.monotonic() - start:7.1f} s",
                                  flush=True)
                        if reached:
                            break
            finally:
                if not args.keep_network:
                    try:
                        client.delete_network(net.network_id)
                    except EpropError as e:
                        print(f"evidence_accumulation: could not delete "
                              f"{net.network_id}: {e}", file=sys.stderr)
    except (EpropError, OSError, ValueError) as e:
        print(f"evidence_accumulation: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    elapsed = time.monotonic() - start
    final = float(np.mean(errors[-window:])) if errors else float("nan")
    print(f"{'reached' if reached else 'did not reach'} a mean error of "
          f"{100 * final:.1f} % (target {100 * args.target_error:.1f} %) after "
          f"{len(errors)} iterations in {elapsed:.1f} s", flush=True)
    return 0 if reached else 1


if __name__ == "__main__":
    sys.exit(main())
