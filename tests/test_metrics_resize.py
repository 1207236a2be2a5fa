"""metrics.resize: clean equals clean-fid's own resizer, dgm_eval equals torchvision's PIL path
(dgm-eval's DINOv2 transform), legacy_tf equals torch-fidelity's internal resize, and the
Inception float path (clean) runs torch-fidelity's layers exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms as TF
from cleanfid.resize import make_resizer
from PIL import Image
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from genlab.metrics.extractors import InceptionExtractor
from genlab.metrics.inception_float import inception_float_forward
from genlab.metrics.resize import resize_images
from helpers.inception import save_random_inception_weights


def images(num=3, channels=3, size=28, seed=0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(num, channels, size, size, generator=generator) * 255).round().byte()


@pytest.mark.parametrize("out", [299, 224, 16])
def test_clean_equals_cleanfid_make_resizer(out):
    x = images()
    resizer = make_resizer("PIL", False, "bicubic", (out, out))
    want = np.stack([resizer(img) for img in x.permute(0, 2, 3, 1).numpy()]).transpose(0, 3, 1, 2)
    # same PIL float32 arithmetic: bit-equal (tolerance 0)
    np.testing.assert_array_equal(resize_images(x, out, "clean").numpy(), want)


@pytest.mark.parametrize("channels", [1, 3])
def test_dgm_eval_equals_torchvision_pil_bicubic(channels):
    x = images(channels=channels)
    tf = TF.Compose([TF.Resize((224, 224), TF.InterpolationMode.BICUBIC), TF.PILToTensor()])
    arrays = x.permute(0, 2, 3, 1).numpy()
    pil = [Image.fromarray(img[..., 0] if channels == 1 else img) for img in arrays]
    want = torch.stack([tf(img) for img in pil]).float()
    assert torch.equal(resize_images(x, 224, "dgm_eval"), want)  # uint8 values, exact


def test_legacy_tf_equals_torch_fidelity_resize():
    x = images()
    want = interpolate_bilinear_2d_like_tensorflow1x(x.float(), (299, 299), align_corners=False)
    assert torch.equal(resize_images(x, 299, "legacy_tf"), want)


@pytest.mark.slow  # ~28 s on the shared CPU: random InceptionV3 weights, two builds, 299 px
def test_inception_clean_mode_and_float_path(tmp_path):
    path = save_random_inception_weights(tmp_path / "inception.pt")
    legacy = InceptionExtractor(str(path))
    clean = InceptionExtractor(str(path), resize="clean")
    assert (legacy.resize_mode, clean.resize_mode) == ("legacy_tf", "clean")
    x299 = images(num=2, size=299)
    # at 299 px TF1's resize is the identity, so the float path must equal torch-fidelity's own
    # forward on the same uint8 images (tolerance: float32 rounding of identical arithmetic)
    feats, logits = legacy.net(x299)
    f2, l2 = inception_float_forward(legacy.net, x299.float())
    torch.testing.assert_close(f2, feats, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(l2, logits, rtol=1e-5, atol=1e-4)
    small = images(num=2, size=28)
    assert not torch.allclose(clean(small).features, legacy(small).features)  # mode matters
    with pytest.raises(ValueError, match="dgm_eval.*not supported by extractor 'inception'"):
        InceptionExtractor(str(path), resize="dgm_eval")
