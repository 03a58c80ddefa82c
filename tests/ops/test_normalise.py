import pickle

import torch

from chanpos.ops.normalise import Normalise

MEAN, STD = (0.5, 0.25, 0.0), (0.5, 0.25, 2.0)


def test_uint8_input_is_scaled_by_1_over_255_then_standardised() -> None:
    img = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    out = Normalise(MEAN, STD)(img)
    # by hand: (0/255 - 0.5)/0.5 = -1; (51/255 - 0.25)/0.25 = (0.2 - 0.25)/0.25 = -0.2; (1 - 0)/2
    expected = torch.tensor([-1.0, -0.2, 0.5]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    assert out.dtype == torch.float32 and out.shape == (1, 3, 2, 2)
    assert torch.allclose(out, expected, atol=1e-6)


def test_float_input_is_not_rescaled() -> None:
    img = torch.tensor([0.0, 0.2, 1.0]).view(1, 3, 1, 1)
    out = Normalise(MEAN, STD)(img)
    assert torch.allclose(out.flatten(), torch.tensor([-1.0, -0.2, 0.5]), atol=1e-6)
    # the same pixels as uint8 give the same result as floats in [0, 1]
    u8 = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 3, 1, 1)
    assert torch.allclose(Normalise(MEAN, STD)(u8), out, atol=1e-6)


def test_float64_input_becomes_float32() -> None:
    img = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    out = Normalise(MEAN, STD)(img)
    assert out.dtype == torch.float32
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    assert torch.allclose(out, (img.float() - mean) / std, atol=1e-6)


def test_batches_are_standardised_per_channel() -> None:
    x = torch.randint(0, 256, (5, 3, 7, 6), dtype=torch.uint8)
    out = Normalise(MEAN, STD)(x)
    assert out.shape == (5, 3, 7, 6)
    for c in range(3):
        want = (x[:, c].float() / 255.0 - MEAN[c]) / STD[c]
        assert torch.allclose(out[:, c], want, atol=1e-6)


def test_repeated_calls_reuse_the_cached_statistics_and_give_identical_results() -> None:
    norm = Normalise(MEAN, STD)
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    first = norm(x)
    cached = norm._on[torch.device("cpu")]
    second = norm(x)
    assert torch.equal(first, second)
    assert len(norm._on) == 1 and norm._on[torch.device("cpu")] is cached


def test_normalise_pickles_without_its_device_cache_and_behaves_the_same() -> None:
    norm = Normalise(MEAN, STD)
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    before = norm(x)
    clone = pickle.loads(pickle.dumps(norm))
    assert clone.mean == MEAN and clone.std == STD and clone._on == {}
    assert torch.equal(clone(x), before)
