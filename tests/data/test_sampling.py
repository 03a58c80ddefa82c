import pytest
import torch

from chanpos.data import balanced_subset
from chanpos.data.sampling import class_quotas
from chanpos.errors import ChanposError


def _counts(labels: torch.Tensor, idx: torch.Tensor, k: int) -> list[int]:
    return torch.bincount(labels[idx], minlength=k).tolist()


def test_equal_classes_get_floor_or_ceil_each() -> None:
    labels = torch.arange(4).repeat_interleave(10)  # 4 classes x 10, stored class by class
    for n in (1, 3, 4, 7, 22, 39):
        idx = balanced_subset(labels, n, seed=0)
        counts = _counts(labels, idx, 4)
        assert sum(counts) == n and set(counts) <= {n // 4, -(-n // 4)}
        assert idx.tolist() == sorted(set(idx.tolist()))  # ascending, no repeats


def test_small_classes_give_all_and_the_others_fill_in() -> None:
    labels = torch.tensor([0] + [1] * 10 + [2] * 10 + [3] * 3)
    for n, seed, first, rest in ((9, 0, 1, [2, 3, 3]), (13, 0, 1, [3, 4, 5]),
                                 (23, 5, 1, [3, 9, 10]), (4, 1, 1, [1, 1, 1])):
        counts = _counts(labels, balanced_subset(labels, n, seed), 4)
        assert counts[0] == first and sorted(counts[1:]) == rest, (n, counts)
    # the class that gets the extra item depends on the seed
    assert len({tuple(_counts(labels, balanced_subset(labels, 9, s), 4)) for s in range(12)}) > 1


def test_quotas_water_fill_exactly() -> None:
    quota = class_quotas(torch.tensor([1, 10, 10, 3]), 9, 0).tolist()
    assert quota[0] == 1 and sorted(quota[1:]) == [2, 3, 3]
    assert class_quotas(torch.tensor([2, 2, 50]), 30, 0).tolist() == [2, 2, 26]
    assert class_quotas(torch.tensor([5, 5]), 100, 0).tolist() == [5, 5]
    quota = class_quotas(torch.tensor([7] * 10), 13, 3)
    assert sorted(quota.tolist()) == [1] * 7 + [2] * 3


def test_unsaturated_classes_never_differ_by_more_than_one() -> None:
    g = torch.Generator().manual_seed(0)
    for trial in range(50):
        k = int(torch.randint(1, 8, (1,), generator=g))
        labels = torch.randint(0, k, (int(torch.randint(1, 60, (1,), generator=g)),), generator=g)
        n = int(torch.randint(1, len(labels) + 1, (1,), generator=g))
        idx = balanced_subset(labels, n, seed=trial)
        have = torch.bincount(labels, minlength=k)
        got = torch.bincount(labels[idx], minlength=k)
        assert int(got.sum()) == n and bool((got <= have).all())
        open_ = got[(got < have)]
        if len(open_):  # classes with items left: as equal as possible, never below a full one
            assert int(open_.max() - open_.min()) <= 1
            assert int(got[have > 0].max()) <= int(open_.min()) + 1


def test_deterministic_by_seed_and_seeds_differ() -> None:
    labels = torch.arange(5).repeat(40)  # interleaved storage order
    a = balanced_subset(labels, 25, seed=7)
    assert torch.equal(a, balanced_subset(labels, 25, seed=7))
    assert not torch.equal(a, balanced_subset(labels, 25, seed=8))
    assert _counts(labels, a, 5) == [5] * 5
    assert a.tolist() != list(range(25))  # not the first n


def test_n_at_least_len_returns_everything_and_n_below_one_is_an_error() -> None:
    labels = torch.tensor([3, 1, 1, 2])
    assert balanced_subset(labels, 4, 0).tolist() == [0, 1, 2, 3]
    assert balanced_subset(labels, 99, 0).tolist() == [0, 1, 2, 3]
    with pytest.raises(ChanposError, match="sample count must be >= 1, got 0"):
        balanced_subset(labels, 0, 0)
