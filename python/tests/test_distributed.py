"""process_group=: mean reductions over every rank's logits, on gloo with 2 CPU processes and
unequal shards, against the single-process full-batch losses and gradients."""

import os

import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed (python/run-tests.sh installs it with "
    "GANLOSS_PY_TORCH=1)")
import torch.distributed as dist  # noqa: E402

import ganloss.torch as gt  # noqa: E402

WORLD = 2
# Unequal shards: rank 0 holds 5 rows, rank 1 holds 11.
SPLIT = (5, 11)
# (kind, reduction, weighted, weights that require a gradient, float16 weights up to 30000,
# whose sums pass float16's 65504)
CASES = [("nonsaturating", "mean", True, False, False), ("hinge", "mean", False, False, False),
         ("least-squares", "mean-nonzero", True, False, False),
         ("wasserstein", "sum", True, False, False), ("relativistic", "mean", True, False, False),
         ("nonsaturating", "mean", True, True, False), ("least-squares", "mean", True, True, False),
         ("relativistic", "mean", True, True, False), ("hinge", "sum", True, True, False),
         ("nonsaturating", "mean", True, False, True), ("least-squares", "mean", True, True, True)]


def full_batch(seed):
    g = torch.Generator().manual_seed(seed)
    n = sum(SPLIT)
    real = 3 * torch.randn(n, 1, 4, generator=g)
    fake = 3 * torch.randn(n, 1, 4, generator=g)
    # Weights per row, broadcast over the row's elements; some are 0 (mean-nonzero).
    weights = torch.rand(n, 1, 1, generator=g) * (torch.rand(n, 1, 1, generator=g) > 0.3)
    return real, fake, weights


def run_case(seed, kind, reduction, weighted, weight_grad, large_half_weights, group, rows):
    real, fake, weights = full_batch(seed)
    if large_half_weights:
        weights = (30000 * weights).half()
    real, fake, weights = real[rows].clone(), fake[rows].clone(), weights[rows].clone()
    real.requires_grad_()
    fake.requires_grad_()
    weights.requires_grad_(weight_grad)
    w = weights if weighted else None
    fw = None if kind == "relativistic" else w
    d = gt.DiscriminatorLoss(kind, reduction, process_group=group)(real, fake, w, fw)
    g = gt.GeneratorLoss(kind, reduction, process_group=group)(fake, real, fw, w)
    (d + 0.5 * g).backward()
    return d.detach(), g.detach(), real.grad, fake.grad, weights.grad


def worker(rank, path):
    dist.init_process_group("gloo", init_method=f"file://{path}/store", rank=rank,
                            world_size=WORLD)
    start = sum(SPLIT[:rank])
    rows = slice(start, start + SPLIT[rank])
    results = [run_case(seed, *case, dist.group.WORLD, rows) for seed, case in enumerate(CASES)]
    torch.save(results, os.path.join(path, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_process_group_means_equal_the_full_batch(tmp_path):
    torch.multiprocessing.spawn(worker, args=(str(tmp_path),), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    for i, case in enumerate(CASES):
        kind, reduction, _, weight_grad, _ = case
        d, g, grad_real, grad_fake, grad_w = run_case(i, *case, None, slice(0, sum(SPLIT)))
        for rank in range(WORLD):
            rd, rg, rgr, rgf, rgw = ranks[rank][i]
            torch.testing.assert_close(rd, d, msg=f"{kind} {reduction} rank {rank} D")
            torch.testing.assert_close(rg, g, msg=f"{kind} {reduction} rank {rank} G")
            start = sum(SPLIT[:rank])
            rows = slice(start, start + SPLIT[rank])
            torch.testing.assert_close(rgr, grad_real[rows])
            torch.testing.assert_close(rgf, grad_fake[rows])
            if weight_grad:
                torch.testing.assert_close(rgw, grad_w[rows],
                                           msg=f"{kind} {reduction} rank {rank} weights")
            else:
                assert rgw is None and grad_w is None


def test_process_group_refuses_the_relativistic_average():
    real = torch.randn(8)
    with pytest.raises(ValueError, match="global means"):
        gt.DiscriminatorLoss("relativistic-average", process_group=object())(real, real)
