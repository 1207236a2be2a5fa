"""Hand-written PyTorch training loops for ``overhead.py``: the same nets, data, optimizer and
math as genlab's VAE and GAN modules, with nothing else (no framework, no logging, no checks).

Data: the datamodule's in-memory training tensor, shuffled with ``torch.randperm`` each epoch
and served by slicing (images in [0, 1]; a fresh Bernoulli draw per batch for the VAE with
``binarize=dynamic``; [-1, 1] for the GANs).
"""

from __future__ import annotations

import hydra
import torch
import torch.nn.functional as F


def train_tensor(datamodule) -> torch.Tensor:
    """Return the training inputs as one float tensor: images (N, C, H, W) in [0, 1] or points."""
    datamodule.setup("fit")
    if hasattr(datamodule, "train_set"):  # 2D toys
        return datamodule.train_set.tensors[0]
    images = datamodule.dataset("train").images
    return images.float().div(255.0) if images.dtype == torch.uint8 else images.float()


def batches(data: torch.Tensor, batch_size: int, drop_last: bool):
    """Yield shuffled batches (a new permutation per call)."""
    perm = torch.randperm(len(data))
    stop = len(data) - batch_size + 1 if drop_last else len(data)
    for start in range(0, stop, batch_size):
        yield data[perm[start : start + batch_size]]


def vae_loop(cfg, datamodule, epochs: int) -> None:
    """ELBO training of the configured encoder/decoder with a Bernoulli likelihood."""
    torch.manual_seed(cfg.seed)
    enc = hydra.utils.instantiate(cfg.model.encoder)
    dec = hydra.utils.instantiate(cfg.model.decoder)
    opt = hydra.utils.instantiate(cfg.model.optimizer)(
        params=[*enc.parameters(), *dec.parameters()]
    )
    data = train_tensor(datamodule)
    dynamic = cfg.data.binarize == "dynamic"
    for _ in range(epochs):
        for x in batches(data, cfg.data.batch_size, drop_last=False):
            if dynamic:
                x = torch.bernoulli(x)
            mu, logvar = enc(x)
            z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
            recon = -F.binary_cross_entropy_with_logits(dec(z), x, reduction="none")
            kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(-1)
            loss = -(recon.flatten(1).sum(1) - kl).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def gan_loop(cfg, datamodule, epochs: int) -> None:
    """Non-saturating GAN: one D step then one G step per batch, optional generator EMA."""
    torch.manual_seed(cfg.seed)
    gen = hydra.utils.instantiate(cfg.model.generator)
    disc = hydra.utils.instantiate(cfg.model.discriminator)
    opt_g = hydra.utils.instantiate(cfg.model.optimizer_g)(params=gen.parameters())
    opt_d = hydra.utils.instantiate(cfg.model.optimizer_d)(params=disc.parameters())
    ema = None
    if cfg.model.ema_decay is not None:
        ema = hydra.utils.instantiate(cfg.model.generator).requires_grad_(False)
        ema.load_state_dict(gen.state_dict())
    data = train_tensor(datamodule)
    if data.ndim == 4:
        data = data * 2.0 - 1.0
    drop_last = data.ndim == 2  # the 2D toys drop the last partial batch
    latent, g_step = int(gen.latent_dim), 0
    for _ in range(epochs):
        for real in batches(data, cfg.data.batch_size, drop_last=drop_last):
            with torch.no_grad():
                fake = gen(torch.randn(len(real), latent))
            d_loss = F.softplus(-disc(real)).mean() + F.softplus(disc(fake)).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            disc.requires_grad_(False)
            g_loss = F.softplus(-disc(gen(torch.randn(len(real), latent)))).mean()
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            disc.requires_grad_(True)
            if ema is not None:
                beta = min(cfg.model.ema_decay, (1.0 + g_step) / (10.0 + g_step))
                with torch.no_grad():
                    for p_ema, p in zip(ema.parameters(), gen.parameters(), strict=True):
                        p_ema.lerp_(p, 1.0 - beta)
                    for b_ema, b in zip(ema.buffers(), gen.buffers(), strict=True):
                        b_ema.copy_(b)
            g_step += 1


HAND_LOOPS = {"VAE": vae_loop, "GAN": gan_loop}
