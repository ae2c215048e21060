"""Blocks, reconstruction losses, KL and alignment on hand-computed values."""

import math

import pytest
import torch

from genepeak.nn import (
    MLP,
    Decoder,
    FusionAlignment,
    GaussianEncoder,
    ReconstructionHead,
    kl_standard_normal,
    l2_alignment,
    reparameterize,
    symmetric_kl,
)
from genepeak.nn.losses import huber, l1, mse, weighted_mse


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "gelu", "tanh"])
@pytest.mark.parametrize("norm", [None, "batch", "layer"])
def test_mlp_shapes_and_leading_dims(activation, norm):
    mlp = MLP(7, [5, 3], activation, dropout=0.1, norm=norm).eval()
    x = torch.randn(4, 6, 7)
    out = mlp(x)
    assert out.shape == (4, 6, 3)
    # leading sample axes do not change the per-row result
    torch.testing.assert_close(out[1], mlp(x[1]))


def test_decoder_mirrors_encoder():
    enc = GaussianEncoder(20, [16, 8], 4)
    dec = Decoder(4, [16, 8], 20)
    enc_widths = [m.out_features for m in enc.body.layers if isinstance(m, torch.nn.Linear)]
    dec_widths = [m.out_features for m in dec.body.layers if isinstance(m, torch.nn.Linear)]
    assert enc_widths == [16, 8] and dec_widths == [8, 16]
    mean, logvar = enc(torch.randn(3, 20))
    assert mean.shape == logvar.shape == (3, 4)
    assert dec(mean).shape == (3, 20)


def test_reparameterize_modes():
    mean, logvar = torch.tensor([[1.0, -2.0]]), torch.log(torch.tensor([[4.0, 0.25]]))
    eps = torch.tensor([[1.0, 2.0]])
    torch.testing.assert_close(reparameterize(mean, logvar, eps), torch.tensor([[3.0, -1.0]]))
    assert torch.equal(reparameterize(mean, logvar, sample=False), mean)
    samples = reparameterize(mean, logvar, n_samples=5000)
    assert samples.shape == (5000, 1, 2)
    assert samples.std(0)[0, 0] == pytest.approx(2.0, rel=0.05)


def test_reconstruction_losses_hand_values():
    pred = torch.tensor([[1.0, 0.0, 3.0, 0.5]])
    target = torch.tensor([[0.0, 0.0, 1.0, 0.5]])
    assert float(mse(pred, target)) == pytest.approx((1 + 0 + 4 + 0) / 4)
    assert float(l1(pred, target)) == pytest.approx((1 + 0 + 2 + 0) / 4)
    # huber, delta 1: 0.5 * 1^2, 0, 1 * (2 - 0.5), 0
    assert float(huber(pred, target, 1.0)) == pytest.approx((0.5 + 0 + 1.5 + 0) / 4)
    # weighted: nonzero targets (entries 2, 3) weigh 5 -> (1 + 0 + 5*4 + 0) / 4
    assert float(weighted_mse(pred, target, 5.0)) == pytest.approx(21 / 4)


def test_kl_standard_normal_hand_value():
    mean = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)]])
    expected = 0.5 * (1 + 0) + 0.5 * (2 - 1 - math.log(2.0))
    assert float(kl_standard_normal(mean, logvar)) == pytest.approx(expected)
    assert float(kl_standard_normal(torch.zeros(1, 3), torch.zeros(1, 3))) == 0.0


def test_alignment_losses():
    mean_a, logvar_a = torch.randn(5, 4), torch.randn(5, 4)
    assert torch.all(symmetric_kl(mean_a, logvar_a, mean_a.clone(), logvar_a.clone()) == 0)
    assert torch.all(symmetric_kl(mean_a, logvar_a, mean_a + 0.3, logvar_a) > 0)
    # unit variances: sKL = |mu_a - mu_b|^2 ; l2 = |mu_a - mu_b|^2
    zeros = torch.zeros(1, 2)
    a, b = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 2.0]])
    assert float(symmetric_kl(a, zeros, b, zeros)) == pytest.approx(5.0)
    assert float(l2_alignment(a, b)) == pytest.approx(5.0)


def test_fusion_gets_gradients():
    fusion = FusionAlignment(4)
    mean_r = torch.randn(6, 4, requires_grad=True)
    mean_a = torch.randn(6, 4, requires_grad=True)
    z_shared, loss = fusion(mean_r, mean_a)
    assert z_shared.shape == (6, 4)
    loss.mean().backward()
    for p in fusion.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert mean_r.grad.abs().sum() > 0 and mean_a.grad.abs().sum() > 0


def test_heads_map_to_input_scale():
    out = torch.tensor([[0.0, math.log(3.0)]])
    nb = ReconstructionHead("nb", 2, target_sum=100.0)
    # softmax([0, log 3]) = [0.25, 0.75] -> log1p([25, 75])
    torch.testing.assert_close(nb.to_input_scale(out), torch.log1p(torch.tensor([[25.0, 75.0]])))
    assert ReconstructionHead("bernoulli", 2).scale == "probability"
    torch.testing.assert_close(
        ReconstructionHead("bernoulli", 2).to_input_scale(out), torch.sigmoid(out)
    )
    assert ReconstructionHead("mse", 2).to_input_scale(out) is not None
    counts = torch.tensor([[1.0, 5.0]])
    library = torch.tensor([6.0])
    nll = nb.loss(out, torch.log1p(counts), counts, library)
    assert nll.shape == (1,) and float(nll.detach()) > 0
