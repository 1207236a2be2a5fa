"""BigGAN generator and projection discriminator for 32 px (the CIFAR variant of
ajbrock/BigGAN-PyTorch ``BigGAN.py``, arch[32], which StudioGAN's BigGAN CIFAR-10 row uses) and
128 px (arch[128], the ImageNet BigGAN; the BigGAN-deep generator is in deep.py).

Brock et al. 2019: shared class embedding (one nn.Embedding for all conditional BNs), hierarchical
latent (z split into one chunk for the first linear layer plus one per block, each block's cBN
conditioned on [embedding, chunk]), conditional BN, optional self-attention (genlab.nets.
attention; BigGAN-PyTorch's CIFAR script uses none, so ``attention_res=None`` by default),
spectral norm in G and D, orthogonal init, projection discriminator (Miyato & Koyama 2018) on the
globally sum-pooled features. Widths: G 4ch at every block (ch = 64), D 4ch; G = linear to 4x4
-> 3 up blocks -> BN, ReLU, conv3x3, tanh; D = 2 down blocks + 2 plain blocks. At 128 px: G
ch x [16, 16, 8, 4, 2] -> [16, 8, 4, 2, 1] over 5 up blocks, D ch x [1, 2, 4, 8, 16, 16].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.nets.attention import SelfAttention, check_attention_res
from genlab.nets.biggan.layers import DBlock, GBlock
from genlab.nets.pack import PACK_RANGE, pack_input
from genlab.nets.spectral import add_spectral_norm
from genlab.utils.ranges import Num, check_ranges


def _orthogonal_init(net: nn.Module) -> None:
    """BigGAN-PyTorch's default G_init/D_init 'ortho': orthogonal weights, zero biases."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.Linear | nn.Embedding):
            nn.init.orthogonal_(m.weight)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


#: image_size -> G blocks as (input width, output width) in units of ch, each block doubling the
#: resolution from 4x4 (ajbrock/BigGAN-PyTorch BigGAN.py G_arch: 32 = the CIFAR arch, 4 ch
#: throughout; 128 = ch x [16, 16, 8, 4, 2] -> [16, 8, 4, 2, 1]).
G_ARCH = {
    32: [(4, 4), (4, 4), (4, 4)],
    128: [(16, 16), (16, 8), (8, 4), (4, 2), (2, 1)],
}


class BigGANGenerator(nn.Module):
    """(z (N, latent_dim), labels (N,)) -> images (N, channels, S, S) in [-1, 1], S = 32 or 128.

    Args:
        num_classes: classes of the shared embedding. latent_dim: z size, split into one chunk
            for the linear layer plus one per block (32 px: 3 blocks, z 128 in 4 chunks of 32;
            128 px: 5 blocks, BigGAN-PyTorch's z 120 in 6 chunks of 20). ch: width unit
            (``G_ARCH``; 64 at 32 px, 96 in BigGAN-PyTorch's 128 px script).
        shared_dim: shared embedding size (128). attention_res: a block's output resolution
            (8 .. image_size) or None (BigGAN-PyTorch: none at 32 px, 64 at 128 px).
    """

    RANGES = {
        "num_classes": Num(integer=True, low=1),
        "latent_dim": Num(integer=True, low=4),
        "ch": Num(integer=True, low=2),
        "shared_dim": Num(integer=True, low=1),
    }

    def __init__(
        self,
        num_classes: int,
        latent_dim: int = 128,
        image_size: int = 32,
        channels: int = 3,
        ch: int = 64,
        shared_dim: int = 128,
        attention_res: int | None = None,
    ) -> None:
        check_ranges(self, num_classes=num_classes, latent_dim=latent_dim, ch=ch,
                     shared_dim=shared_dim)  # fmt: skip
        if image_size not in G_ARCH:
            raise ValueError(
                f"BigGAN generator: image_size must be one of {sorted(G_ARCH)} px, got "
                f"{image_size} (data.image_size; BigGAN-deep: model/gan_nets=biggan_deep128)."
            )
        arch = G_ARCH[image_size]
        slots = len(arch) + 1
        if latent_dim % slots:
            raise ValueError(
                f"BigGAN latent_dim must be a multiple of {slots} at {image_size} px (one chunk "
                f"for the linear layer and one per block), got {latent_dim}"
            )
        resolutions = [8 * 2**i for i in range(len(arch))]
        check_attention_res(attention_res, resolutions, "BigGANGenerator")
        super().__init__()
        self.num_classes, self.latent_dim = num_classes, latent_dim
        self.data_shape = (channels, image_size, image_size)
        self.chunk = latent_dim // slots
        self.width = arch[0][0] * ch  # of the 4x4 input
        self.shared = nn.Embedding(num_classes, shared_dim)
        self.linear = nn.Linear(self.chunk, 4 * 4 * self.width)
        self.blocks = nn.ModuleList()
        self.attention = nn.ModuleDict()
        self.resolutions = resolutions
        for (w_in, w_out), r in zip(arch, resolutions, strict=True):
            self.blocks.append(GBlock(w_in * ch, w_out * ch, shared_dim + self.chunk))
            if r == attention_res:
                self.attention[str(r)] = SelfAttention(w_out * ch)
        self.out_bn = nn.BatchNorm2d(arch[-1][1] * ch, eps=1e-4)
        self.out_conv = nn.Conv2d(arch[-1][1] * ch, channels, 3, 1, 1)
        _orthogonal_init(self)
        add_spectral_norm(self)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        """Images (N, C, S, S) in [-1, 1] of classes ``labels``."""
        chunks = z.flatten(start_dim=1).split(self.chunk, dim=1)
        shared = self.shared(labels.long())
        h = self.linear(chunks[0]).view(z.shape[0], self.width, 4, 4)
        for i, (block, r) in enumerate(zip(self.blocks, self.resolutions, strict=True)):
            h = block(h, torch.cat([shared, chunks[i + 1]], dim=1))
            if str(r) in self.attention:
                h = self.attention[str(r)](h)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


#: image_size -> D blocks as (input width, output width, down-sample) in units of ch (0 = the
#: image channels), and the resolutions where attention may go (after the block with that output).
D_ARCH = {
    32: ([(0, 4, True), (4, 4, True), (4, 4, False), (4, 4, False)], [16]),
    # BigGAN-PyTorch BigGAN.py D_arch[128]: ch x [1, 2, 4, 8, 16, 16], the last without pooling
    128: ([(0, 1, True), (1, 2, True), (2, 4, True), (4, 8, True), (8, 16, True),
           (16, 16, False)], [64]),
}  # fmt: skip


class BigGANDiscriminator(nn.Module):
    """(images (N, C, S, S) in [-1, 1], labels (N,)) -> logits (N,): linear(h) + <embed(y), h>.

    Args:
        num_classes: classes of the projection embedding. image_size: 32 (the CIFAR arch: 4 ch
            channels throughout) or 128 (BigGAN-PyTorch D_arch[128]: ch x [1, 2, 4, 8, 16, 16]).
        ch: width unit (64). attention_res: 16 (32 px) / 64 (128 px) or None.
        pack: PacGAN packing degree (1 = off).
    """

    RANGES = {"num_classes": Num(integer=True, low=1), "ch": Num(integer=True, low=2),
              "pack": PACK_RANGE}  # fmt: skip

    def __init__(
        self,
        num_classes: int,
        image_size: int = 32,
        channels: int = 3,
        ch: int = 64,
        attention_res: int | None = None,
        pack: int = 1,
    ) -> None:
        check_ranges(self, num_classes=num_classes, ch=ch, pack=pack)
        if image_size not in D_ARCH:
            raise ValueError(
                f"BigGAN discriminator: image_size must be 32 px or 128 px, got {image_size} "
                "(data.image_size)."
            )
        arch, attention_allowed = D_ARCH[image_size]
        check_attention_res(attention_res, attention_allowed, "BigGANDiscriminator")
        super().__init__()
        self.num_classes, self.pack = num_classes, pack
        self.data_shape = (channels, image_size, image_size)
        blocks: list[nn.Module] = []
        res = image_size
        for i, (w_in, w_out, down) in enumerate(arch):
            c_in = channels * pack if i == 0 else w_in * ch
            blocks.append(DBlock(c_in, w_out * ch, down=down, preactivation=i > 0))
            res //= 2 if down else 1
            if res == attention_res:
                blocks.append(SelfAttention(w_out * ch))
        w = arch[-1][1] * ch
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(w, 1)
        self.embed = nn.Embedding(num_classes, w)
        _orthogonal_init(self)
        add_spectral_norm(self)
        nn.utils.parametrizations.spectral_norm(self.embed)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        """One logit per example (per pack)."""
        h = F.relu(self.blocks(pack_input(x, self.pack))).sum(dim=(2, 3))
        y = labels.long()[:: self.pack]
        return (self.linear(h) + (self.embed(y) * h).sum(dim=1, keepdim=True)).flatten()


def standing_statistics(
    generator: nn.Module, num_batches: int, batch_size: int, device: torch.device | None = None
) -> None:
    """BigGAN's "standing statistics" for a BigGAN generator (Brock et al. 2019, Appendix C.1):
    :func:`genlab.models.ema_standing.standing_statistics` with uniform labels over its classes
    and torch's global RNG; leaves the generator in eval mode."""
    from genlab.models.ema_standing import standing_statistics as _standing

    _standing(generator, num_batches, batch_size, generator.num_classes, device=device)
    generator.eval()
