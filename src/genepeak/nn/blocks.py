"""Building blocks shared by every architecture: MLP, Gaussian encoder, decoder, sampling."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATION_LAYERS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
}


class MLP(nn.Module):
    """Stack of Linear -> [norm] -> activation -> [dropout] layers.

    Parameters
    ----------
    n_in
        Input width.
    widths
        Hidden widths, one per layer (may be empty: the identity).
    activation
        One of ``relu``, ``leaky_relu``, ``elu``, ``gelu``, ``tanh``.
    dropout
        Dropout probability after each activation (0 disables it).
    norm
        ``None``, ``"batch"`` or ``"layer"``.

    Any number of leading dimensions is accepted (e.g. Monte-Carlo samples x cells).
    """

    def __init__(
        self,
        n_in: int,
        widths: list[int],
        activation: str = "tanh",
        dropout: float = 0.0,
        norm: str | None = None,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in widths:
            layers.append(nn.Linear(n_in, width))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(width))
            elif norm == "layer":
                layers.append(nn.LayerNorm(width))
            layers.append(ACTIVATION_LAYERS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            n_in = width
        self.layers = nn.Sequential(*layers)
        self.n_out = n_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        # BatchNorm1d wants (rows, features): flatten sample dimensions, then restore them
        return self.layers(x.reshape(-1, x.shape[-1])).reshape(*lead, self.n_out)


class GaussianEncoder(nn.Module):
    """MLP followed by two linear heads: posterior mean and log-variance of a diagonal Gaussian."""

    def __init__(
        self,
        n_in: int,
        hidden: list[int],
        latent_dim: int,
        activation: str = "tanh",
        dropout: float = 0.0,
        norm: str | None = None,
    ) -> None:
        super().__init__()
        self.body = MLP(n_in, hidden, activation, dropout, norm)
        self.mean = nn.Linear(self.body.n_out, latent_dim)
        self.logvar = nn.Linear(self.body.n_out, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mean(h), self.logvar(h)


class Decoder(nn.Module):
    """MLP from a latent vector to ``n_out`` raw outputs (their meaning is set by the loss head).

    ``hidden`` is given in encoder order; the decoder mirrors it (reversed widths).
    """

    def __init__(
        self,
        latent_dim: int,
        hidden: list[int],
        n_out: int,
        activation: str = "tanh",
        dropout: float = 0.0,
        norm: str | None = None,
    ) -> None:
        super().__init__()
        self.body = MLP(latent_dim, list(reversed(hidden)), activation, dropout, norm)
        self.out = nn.Linear(self.body.n_out, n_out)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(z))


def reparameterize(
    mean: torch.Tensor,
    logvar: torch.Tensor,
    eps: torch.Tensor | None = None,
    sample: bool = True,
    n_samples: int | None = None,
) -> torch.Tensor:
    """Draw ``z = mean + exp(logvar / 2) * eps``.

    Parameters
    ----------
    mean, logvar
        Posterior parameters, shape ``(..., latent)``.
    eps
        Standard-normal noise of the output's shape; drawn here when ``None``.
    sample
        ``False`` returns the posterior mean (deterministic prediction).
    n_samples
        When given, returns ``(n_samples, ..., latent)``: K samples in one batched tensor.
    """
    if n_samples is not None:
        mean = mean.expand(n_samples, *mean.shape)
        logvar = logvar.expand(n_samples, *logvar.shape)
    if not sample:
        return mean
    if eps is None:
        eps = torch.randn_like(mean)
    return mean + torch.exp(0.5 * logvar) * eps
