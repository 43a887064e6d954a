"""Two gloo processes on the CPU against one process: the distributed velocity, blob score and runs agree.

What it catches: a shard whose rows are summed against its own block only (P - 1 blocks missing: off by a factor of
about P), blocks of unequal size cut or padded into the sum, a normalisation by the local instead of the global N,
ranks that disagree on a non-finite failure, diagnostics computed from one rank's particles; for a neural score
trained data-parallel: gradients not all-reduced (each rank fits its own half), averaged with equal instead of
n_r / N weights (shards of 151 and 150 rows), summed instead of averaged (the reported loss off by the factor P),
networks that drift apart between ranks.
"""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import landau_lite as ll
from landau_lite.distributed import gather_rows, shard_bounds
from landau_lite.scores import blob_score
from landau_lite.velocity import VelocityField

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="no gloo")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rk: int, size: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rk, world_size=size)
    group = dist.group.WORLD
    res: dict = {}
    try:
        n = 301                                          # not divisible by 2: shards of 151 and 150 rows
        g = torch.Generator().manual_seed(0)
        x = torch.randn(n, 3, generator=g, dtype=torch.float64)
        s = -x + 0.3 * torch.sin(2 * x)
        a, b = shard_bounds(n, size, rk)
        for gamma in (-3.0, 0.0):
            one = ll.velocity(x, s, gamma=gamma, C=0.7)
            field = VelocityField(3, gamma, 0.7, process_group=group)
            many = gather_rows(field(x[a:b], s[a:b]), group)
            res[f"velocity_{gamma:g}"] = float((many - one).abs().max() / one.abs().max())
            res[f"pair_loss_{gamma:g}"] = abs(float(field.pair_loss(x[a:b], s[a:b]))
                                              - float(VelocityField(3, gamma, 0.7).pair_loss(x, s)))
        sc = ll.BlobScore(0.3)
        sc.process_group = group
        sc.initialize(x[a:b], 0.0)
        many = gather_rows(sc.update(x[a:b], 0.0), group)
        one = blob_score(x, epsilon=0.3)
        res["blob"] = float((many - one).abs().max() / one.abs().max())
        # SBTM data-parallel: the ISM loss has no noise, so P processes on shards = one process on all rows
        def flat(net):
            return torch.cat([p.detach().reshape(-1) for p in net.parameters()])

        kw_nn = dict(width=16, loss="ism", steps_per_update=3, lr=1e-2, init_steps=20, init_polish=0, compile=False)
        nn_many, nn_one = ll.NeuralScore(3, **kw_nn), ll.NeuralScore(3, **kw_nn)
        nn_many.process_group = group
        nn_many.initialize(x[a:b], 0.0, s0=-x[a:b])
        nn_one.initialize(x, 0.0, s0=-x)
        res["sbtm_init"] = float((flat(nn_many.net) - flat(nn_one.net)).abs().max())
        for _ in range(2):
            nn_many.update(x[a:b], 0.0)
            nn_one.update(x, 0.0)
        res["sbtm_params"] = float((flat(nn_many.net) - flat(nn_one.net)).abs().max())
        res["sbtm_loss"] = abs(nn_many.last_loss - nn_one.last_loss)
        res["sbtm_loss_scale"] = abs(nn_one.last_loss)
        kw = dict(n=120, dt=0.1, t_end=ll.get_problem("bkw3").t0 + 0.3, progress=False, device="cpu")
        nn_run = ll.NeuralScore(3, width=16, steps_per_update=2, init_steps=20, init_polish=0, compile=False)
        run = ll.simulate("bkw3", nn_run, process_group=group, **kw)
        mine = flat(nn_run.net)
        both = [torch.empty_like(mine) for _ in range(size)]
        dist.all_gather(both, mine, group=group)
        res["sbtm_run"] = {"status": run.status, "ranks_differ": float((both[0] - both[1]).abs().max()),
                           "x_final_finite": bool(torch.isfinite(run.x_final).all()),
                           "n_final": int(run.x_final.shape[0])}
        for problem, score in (("bkw3", "exact"), ("bkw3_coulomb", "blob")):
            t_end = ll.get_problem(problem).t0 + 0.3
            kw = dict(n=120, dt=0.1, t_end=t_end, progress=False, device="cpu")
            dist_run = ll.simulate(problem, score, process_group=group, **kw)
            one_run = ll.simulate(problem, score, **kw)
            res[f"run_{score}"] = {
                "status": dist_run.status, "times": dist_run.times == one_run.times,
                "x_final": float((dist_run.x_final - one_run.x_final).abs().max()),
                "m4": abs(dist_run.diagnostics["m4"][-1] - one_run.diagnostics["m4"][-1]),
                "weighted": [abs((u or 0) - (v or 0)) for u, v in zip(dist_run.step_weighted_loss,
                                                                     one_run.step_weighted_loss)],
            }
    finally:
        if rk == 0:
            with open(out, "w") as fh:
                json.dump(res, fh)
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_process_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist") / "res.json"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    mp.start_processes(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True, start_method="spawn")
    return json.loads(out.read_text())


@pytest.mark.parametrize("key", ["velocity_-3", "velocity_0", "blob"])
def test_distributed_pair_sums_equal_one_process(two_process_results, key):
    assert two_process_results[key] < 1e-13


@pytest.mark.parametrize("gamma", ["-3", "0"])
def test_distributed_pair_loss(two_process_results, gamma):
    assert two_process_results[f"pair_loss_{gamma}"] < 1e-13


def test_distributed_sbtm_trains_like_one_process(two_process_results):
    r = two_process_results
    assert r["sbtm_init"] == 0.0                # the initial fit on the gathered particles, rank 0's copy broadcast
    assert r["sbtm_params"] < 1e-12             # all-reduced, n_r/N-weighted gradients = the full-batch gradient
    assert r["sbtm_loss"] < 1e-12 * max(1.0, r["sbtm_loss_scale"])   # the global loss, not one rank's or a sum


def test_distributed_sbtm_run_keeps_ranks_in_step(two_process_results):
    r = two_process_results["sbtm_run"]
    assert r["status"] == "completed" and r["x_final_finite"] and r["n_final"] == 120
    assert r["ranks_differ"] == 0.0             # every rank takes the same Adam step: one network


@pytest.mark.parametrize("score", ["exact", "blob"])
def test_distributed_run_equals_one_process(two_process_results, score):
    r = two_process_results[f"run_{score}"]
    assert r["status"] == "completed" and r["times"]
    assert r["x_final"] < 1e-12 and r["m4"] < 1e-11
    assert max(r["weighted"]) < 1e-12
