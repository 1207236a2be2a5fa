"""InceptionV3 weights: local loading with networking disabled, clear errors, the weights hash."""

from __future__ import annotations

import hashlib
import socket
import urllib.request

import pytest
import torch
import torch.hub

from genlab.metrics import weights
from genlab.metrics.extractors import (
    InceptionExtractor,
    build_extractor,
)
from helpers.inception import save_random_inception_weights


@pytest.fixture
def no_network(monkeypatch):
    """Any connection or URL open raises (and is recorded): a download attempt fails loudly."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(torch.hub, "urlopen", refuse)
    return attempts


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """torch hub (torch-fidelity's download location) points at an empty folder."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    return tmp_path / "hub"


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    return save_random_inception_weights(tmp_path_factory.mktemp("w") / "inception.pth", seed=1)


def test_local_weights_load_offline_through_config_path(weights_file, no_network, empty_hub):
    extractor = build_extractor("inception", inception_weights=str(weights_file))
    assert isinstance(extractor, InceptionExtractor)
    out = extractor(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    assert out.features.shape == (2, 2048) and out.logits.shape == (2, 1008)
    assert no_network == []  # nothing tried to connect
    expected = hashlib.sha256(weights_file.read_bytes()).hexdigest()[:12]
    assert extractor.weights_hash == expected and len(expected) == 12
    assert extractor.weights_path == str(weights_file.resolve())
    reference = torch.load(weights_file)
    loaded = extractor.net.state_dict()
    assert all(torch.equal(loaded[k], reference[k]) for k in reference)


def test_env_var_is_used_and_config_key_wins(weights_file, tmp_path, monkeypatch, empty_hub):
    monkeypatch.setenv(weights.ENV_VAR, str(weights_file))
    assert weights.resolve_inception_weights(None) == weights_file.resolve()
    other = tmp_path / "other.pth"
    other.write_bytes(b"x")
    assert weights.resolve_inception_weights(str(other)) == other.resolve()


def test_hub_download_location_is_found_without_network(empty_hub, no_network):
    assert weights.resolve_inception_weights(None) is None
    target = weights.hub_weights_path()
    target.parent.mkdir(parents=True)
    target.write_bytes(b"weights")
    assert weights.resolve_inception_weights(None) == target


@pytest.mark.parametrize("via", ["config", "env"])
def test_missing_local_file_says_how_to_provide_it(tmp_path, monkeypatch, empty_hub, via):
    missing = tmp_path / "nope" / "weights.pth"
    if via == "env":
        monkeypatch.setenv(weights.ENV_VAR, str(missing))
    with pytest.raises(weights.InceptionWeightsError) as info:
        build_extractor("inception", inception_weights=str(missing) if via == "config" else None)
    message = str(info.value)
    assert str(missing) in message and "no such file" in message
    for needle in (weights.INCEPTION_URL, weights.CONFIG_KEY, weights.ENV_VAR, str(empty_hub)):
        assert needle in message


def test_no_file_and_no_network_gives_the_same_instructions(empty_hub, no_network):
    with pytest.raises(weights.InceptionWeightsError) as info:
        InceptionExtractor(None)
    message = str(info.value)
    assert no_network, "torch-fidelity should have tried to download"
    assert "download of" in message and "network disabled by the test" in message
    for needle in (weights.INCEPTION_URL, weights.CONFIG_KEY, weights.ENV_VAR, "metrics=none"):
        assert needle in message


def test_unreadable_weights_file_is_reported(tmp_path, empty_hub):
    bad = tmp_path / "bad.pth"
    torch.save({"not": torch.zeros(1)}, bad)
    with pytest.raises(weights.InceptionWeightsError, match="could not load"):
        InceptionExtractor(str(bad))


def test_unknown_extractor_name_lists_allowed_values():
    with pytest.raises(ValueError, match="inception.*digits_classifier"):
        build_extractor("vgg16")
