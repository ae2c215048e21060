"""The cis layer: exactly the pairs within the window, the same product as a dense matrix."""

from __future__ import annotations

import numpy as np
import torch

from genepeak.nn.cis import CisLinear, cis_layout


def _random_genome(rng, n, chroms=("chr1", "chr2", "chr3")):
    return rng.choice(chroms, n), rng.integers(0, 20_000_000, n)


def test_layout_holds_exactly_the_pairs_within_the_window():
    rng = np.random.default_rng(0)
    gc, gp = _random_genome(rng, 300)
    pc, pp = _random_genome(rng, 500)
    gp[:5] = -1  # unknown positions take part in no pair
    layout = cis_layout(gc, gp, pc, pp, window=1_000_000, block=16)
    sources, targets = layout.pairs()
    known = gp >= 0
    brute = (gc[:, None] == pc[None, :]) & (np.abs(gp[:, None] - pp[None, :]) <= 1_000_000)
    brute &= known[:, None]
    assert set(zip(sources.tolist(), targets.tolist())) == set(zip(*np.nonzero(brute)))
    assert layout.n_pairs == int(brute.sum())


def test_forward_equals_the_dense_banded_matrix_and_trains():
    rng = np.random.default_rng(1)
    gc, gp = _random_genome(rng, 200)
    pc, pp = _random_genome(rng, 300)
    layer = CisLinear(cis_layout(gc, gp, pc, pp, window=500_000, block=8))
    with torch.no_grad():
        layer.weight.normal_()
    x = torch.rand(7, 200)
    dense = np.zeros((200, 300), np.float32)
    s, t, w = layer.pair_weights()
    dense[s, t] = w
    np.testing.assert_allclose(layer(x).detach().numpy(), x.numpy() @ dense, atol=1e-4)
    # leading sample dimensions pass through
    assert layer(torch.rand(3, 7, 200)).shape == (3, 7, 300)
    # weights outside the window get no gradient
    layer(x).sum().backward()
    assert torch.all(layer.weight.grad[layer.mask == 0] == 0)
