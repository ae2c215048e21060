"""Count log-likelihoods against torch.distributions and scipy.stats on known values."""

import numpy as np
import pytest
import scipy.stats as st
import torch

from genepeak.nn import bernoulli_log_prob, negative_binomial_log_prob, poisson_log_prob

X = torch.tensor([0.0, 1.0, 3.0, 10.0, 0.0, 25.0], dtype=torch.float64)
MEAN = torch.tensor([0.5, 2.0, 3.0, 7.5, 0.01, 30.0], dtype=torch.float64)
THETA = torch.tensor([1.0, 0.5, 10.0, 2.0, 3.0, 100.0], dtype=torch.float64)


def test_negative_binomial_matches_scipy_and_torch():
    ours = negative_binomial_log_prob(X, MEAN, THETA, eps=0.0).numpy()
    p = (THETA / (THETA + MEAN)).numpy()  # scipy: successes n=theta, success prob theta/(theta+mu)
    expected = st.nbinom.logpmf(X.numpy(), THETA.numpy(), p)
    np.testing.assert_allclose(ours, expected, rtol=1e-10)
    torch_nb = torch.distributions.NegativeBinomial(
        total_count=THETA, logits=torch.log(MEAN / THETA)
    )
    np.testing.assert_allclose(ours, torch_nb.log_prob(X).numpy(), rtol=1e-10)


def test_negative_binomial_hand_value():
    # NB(0 | mu=1, theta=1) = (theta / (theta + mu)) ** theta = 0.5
    value = negative_binomial_log_prob(torch.tensor(0.0), torch.tensor(1.0), torch.tensor(1.0), 0.0)
    assert float(value) == pytest.approx(np.log(0.5))


def test_bernoulli_matches_torch_and_scipy():
    logits = torch.tensor([-3.0, -0.2, 0.0, 1.5, 8.0], dtype=torch.float64)
    x = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    ours = bernoulli_log_prob(x, logits).numpy()
    np.testing.assert_allclose(
        ours, torch.distributions.Bernoulli(logits=logits).log_prob(x).numpy()
    )
    np.testing.assert_allclose(ours, st.bernoulli.logpmf(x.numpy(), torch.sigmoid(logits).numpy()))
    assert ours[2] == pytest.approx(np.log(0.5))


def test_poisson_matches_scipy_and_torch():
    ours = poisson_log_prob(X, MEAN, eps=0.0).numpy()
    np.testing.assert_allclose(ours, st.poisson.logpmf(X.numpy(), MEAN.numpy()), rtol=1e-10)
    np.testing.assert_allclose(
        ours, torch.distributions.Poisson(MEAN).log_prob(X).numpy(), rtol=1e-10
    )
