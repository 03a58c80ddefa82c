import pytest
import torch

from chanpos.data import ImageSet, load_source, make_shapes, source_kind, source_names
from chanpos.errors import ChanposError


def test_shapes_deterministic_and_distinct_splits() -> None:
    a, la = make_shapes(20, seed=3)
    b, lb = make_shapes(20, seed=3)
    assert torch.equal(a, b) and torch.equal(la, lb)
    tr = load_source("shapes", split="train", num_samples=50)
    te = load_source("shapes", split="test", num_samples=50)
    assert tr.images.shape == (50, 3, 32, 32) and tr.images.dtype == torch.uint8
    assert not torch.equal(tr.images, te.images)
    assert set(tr.labels.tolist()) <= set(range(10))


def _class_ordered_set() -> ImageSet:
    """12 images stored class by class (like a folder listing): labels 0,0,0,0,1,...,2."""
    labels = torch.arange(3).repeat_interleave(4)
    images = torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1).expand(12, 3, 2, 2)
    return ImageSet("toy", images, labels, 3, (0.5,) * 3, (0.25,) * 3)


def test_subset_is_seeded_and_class_balanced_not_the_first_n() -> None:
    data = _class_ordered_set()
    sub = data.subset(6, seed=1)
    assert torch.bincount(sub.labels, minlength=3).tolist() == [2, 2, 2]
    index = sub.images[:, 0, 0, 0].long()  # each image holds its own index
    assert torch.equal(sub.labels, index // 4)  # images and labels stay paired
    assert index.tolist() == sorted(index.tolist()) and index.tolist() != list(range(6))
    assert torch.equal(data.subset(6, seed=1).images, sub.images)  # repeatable
    assert any(not torch.equal(data.subset(6, seed=s).images, sub.images) for s in range(2, 6))
    assert data.subset(None) is data and data.subset(50) is data
    with pytest.raises(ChanposError, match="sample count must be >= 1"):
        data.subset(0)


def test_first_classes_keeps_those_classes_in_stored_order() -> None:
    data = _class_ordered_set()
    two = data.first_classes(2)
    assert two.num_classes == 2 and two.labels.tolist() == [0] * 4 + [1] * 4
    assert two.images[:, 0, 0, 0].tolist() == list(range(8))  # images stay with their labels
    assert data.first_classes(None) is data and data.first_classes(3) is data


def test_load_source_passes_the_seed_to_the_subset() -> None:
    pytest.importorskip("sklearn")
    a = load_source("digits", split="test", num_samples=20, seed=0)
    b = load_source("digits", split="test", num_samples=20, seed=0)
    c = load_source("digits", split="test", num_samples=20, seed=1)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert torch.bincount(a.labels, minlength=10).tolist() == [2] * 10


def test_one_registry_knows_every_source_and_its_kind() -> None:
    from chanpos.names import BUILT_IN_SOURCES

    for kind, names in BUILT_IN_SOURCES.items():
        assert set(names) <= set(source_names(kind)), kind
        assert all(source_kind(n) == kind for n in names)
    assert set(source_names()) == {n for names in BUILT_IN_SOURCES.values() for n in names}
    with pytest.raises(ChanposError, match="unknown source 'nope'"):
        source_kind("nope")


def test_registry_errors_are_one_clear_line() -> None:
    with pytest.raises(ChanposError, match="unknown classification source 'imagenet1k'"):
        load_source("imagenet1k")
    with pytest.raises(ChanposError, match="unknown classification source 'streets'"):
        load_source("streets")
    with pytest.raises(ChanposError, match="unknown split 'val'; use train or test"):
        load_source("shapes", split="val")
