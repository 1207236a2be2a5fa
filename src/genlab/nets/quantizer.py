"""Vector quantizer of VQ-VAE (van den Oord et al. 2017) with EMA codebook and dead-code restarts.

Ideas from Sonnet's ``VectorQuantizerEMA`` (EMA of code counts and code sums with Laplace
smoothing of the counts) and Jukebox (Dhariwal et al. 2020: codes whose EMA count falls below a
threshold are restarted at encoder outputs of the current batch). The EMA statistics are
registered buffers, so they live in the state dict and are checkpointed and restored on resume.
Under DDP the batch counts and sums are all-reduced and restarted codes are broadcast from
rank 0, so every rank keeps the same codebook.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from genlab.utils.ranges import Num, check_ranges


@dataclass
class QuantizerOutput:
    """One quantization of a batch of encodings.

    Attributes:
        quantized: (B, C, H, W) code vectors with straight-through gradients to the input.
        indices: (B, H, W) int64 code index of each position.
        commitment_loss: scalar mean ||z_e - sg(e)||^2 per element (not yet times beta).
        codebook_loss: scalar mean ||sg(z_e) - e||^2 per element (0 with EMA updates).
        counts: (K,) float number of positions assigned to each code in this batch.
    """

    quantized: torch.Tensor
    indices: torch.Tensor
    commitment_loss: torch.Tensor
    codebook_loss: torch.Tensor
    counts: torch.Tensor


def perplexity(counts: torch.Tensor) -> torch.Tensor:
    """Return exp(entropy in nats) of the code histogram ``counts`` (K,).

    K when all codes are used equally, 1 when one code takes every assignment.
    """
    p = counts.double() / counts.sum().clamp(min=1)
    return torch.exp(-torch.special.xlogy(p, p).sum()).float()


def _all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t)
    return t


def _broadcast(t: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.broadcast(t, src=0)
    return t


class VectorQuantizer(nn.Module):
    """Nearest-neighbour quantization of (B, C, H, W) encodings onto K codes of size C.

    Args:
        num_codes: K, the codebook size.
        code_dim: C, the size of one code (the encoder's output channels).
        beta: commitment weight; the returned loss is codebook_loss + beta * commitment_loss.
        ema: update codes by EMA of assigned encodings (True) or by the codebook loss (False).
        decay: EMA decay of code counts and sums (and of the usage counts when ``ema`` is off).
        eps: Laplace smoothing of the EMA counts, so no count is 0 in the division.
        restart_threshold: codes whose EMA count (assignments per batch) is below this are
            restarted at random encoder outputs of the batch while training; 0 disables.
    """

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "num_codes": Num(integer=True, low=2),
        "code_dim": Num(integer=True, low=1),
        "beta": Num(low=0),
        "decay": Num(low=0, high=1, high_open=True),
        "eps": Num(low=0, low_open=True),
        "restart_threshold": Num(low=0),
    }

    def __init__(
        self,
        num_codes: int,
        code_dim: int,
        beta: float = 0.25,
        ema: bool = True,
        decay: float = 0.99,
        eps: float = 1e-5,
        restart_threshold: float = 1.0,
    ) -> None:
        check_ranges(
            self,
            num_codes=num_codes,
            code_dim=code_dim,
            beta=beta,
            decay=decay,
            eps=eps,
            restart_threshold=restart_threshold,
        )
        super().__init__()
        if num_codes < 2 or code_dim < 1:
            raise ValueError(
                f"num_codes must be >= 2 and code_dim >= 1, got {num_codes}, {code_dim}"
            )
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"model.quantizer.decay must be in [0, 1), got {decay}")
        self.num_codes, self.code_dim = num_codes, code_dim
        self.beta, self.ema, self.decay, self.eps = beta, ema, decay, eps
        self.restart_threshold = restart_threshold
        init = torch.empty(num_codes, code_dim).uniform_(-1.0 / num_codes, 1.0 / num_codes)
        self.embedding = nn.Parameter(init, requires_grad=not ema)
        # EMA state: as if each code had been assigned one encoding equal to itself.
        self.register_buffer("cluster_size", torch.ones(num_codes))
        self.register_buffer("embed_sum", init.clone())
        self.register_buffer("restarts", torch.zeros((), dtype=torch.long))

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Return the index of the nearest code (squared Euclidean) for each row of (N, C)."""
        e = self.embedding.detach()
        dist2 = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.t() + e.pow(2).sum(1)[None]
        return dist2.argmin(1)

    def nearest_grid(self, z: torch.Tensor) -> torch.Tensor:
        """Return nearest-code indices (B, H, W) for encodings (B, C, H, W); no state change."""
        b, c, h, w = z.shape
        return self.nearest(z.detach().permute(0, 2, 3, 1).reshape(-1, c)).view(b, h, w)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Return code vectors (B, C, H, W) for indices (B, H, W)."""
        return F.embedding(indices, self.embedding).permute(0, 3, 1, 2).contiguous()

    def forward(self, z_e: torch.Tensor) -> QuantizerOutput:
        """Quantize encodings (B, C, H, W); in training mode also update the codebook (EMA)."""
        if z_e.dim() != 4 or z_e.shape[1] != self.code_dim:
            raise ValueError(
                f"expected encodings (B, {self.code_dim}, H, W), got {tuple(z_e.shape)}"
            )
        b, c, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, c)
        indices = self.nearest(flat.detach())
        counts = torch.bincount(indices, minlength=self.num_codes).to(flat.dtype)
        if self.training:
            self._update(flat.detach(), indices, counts)
        z_q = self.lookup(indices.view(b, h, w))
        commitment = F.mse_loss(z_e, z_q.detach())
        codebook = z_e.new_zeros(()) if self.ema else F.mse_loss(z_q, z_e.detach())
        quantized = z_e + (z_q - z_e).detach()  # straight-through estimator
        return QuantizerOutput(quantized, indices.view(b, h, w), commitment, codebook, counts)

    def loss(self, out: QuantizerOutput) -> torch.Tensor:
        """Return the quantizer's loss term codebook_loss + beta * commitment_loss (scalar)."""
        return out.codebook_loss + self.beta * out.commitment_loss

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, indices: torch.Tensor, counts: torch.Tensor) -> None:
        """EMA of counts (and code sums with ``ema``), codebook from smoothed EMA, restarts."""
        counts = _all_reduce_sum(counts.clone())
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        if self.ema:
            sums = torch.zeros_like(self.embed_sum).index_add_(0, indices, flat)
            sums = _all_reduce_sum(sums)
            self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
            n = self.cluster_size.sum()
            smoothed = (self.cluster_size + self.eps) / (n + self.num_codes * self.eps) * n
            self.embedding.data.copy_(self.embed_sum / smoothed[:, None])
        if self.restart_threshold > 0:
            self._restart_dead(flat)

    @torch.no_grad()
    def _restart_dead(self, flat: torch.Tensor) -> None:
        """Move codes with EMA count < restart_threshold onto random encodings of this batch."""
        dead = self.cluster_size < self.restart_threshold
        num_dead = int(dead.sum())
        if num_dead == 0:
            return
        pick = torch.randint(0, flat.shape[0], (num_dead,), device=flat.device)
        new = _broadcast(flat[pick].contiguous())
        self.embedding.data[dead] = new
        self.embed_sum[dead] = new  # one pseudo-assignment at the new position
        self.cluster_size[dead] = 1.0
        self.restarts += num_dead
