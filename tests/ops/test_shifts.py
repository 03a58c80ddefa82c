import pytest
import torch

from chanpos.errors import ChanposError
from chanpos.ops.shifts import SHIFT_MODES, check_shift, draw_shifts, random_shift, translate


def test_random_shift_with_max_shift_zero_is_the_identity() -> None:
    x = torch.randn(5, 3, 8, 8)
    for mode in ("zeros", "reflect", "circular"):
        assert torch.equal(random_shift(x, 0, mode), x)


def test_circular_shift_is_an_exact_roll_per_image() -> None:
    x = torch.randn(6, 2, 7, 9)
    shifts = torch.tensor([[0, 0], [1, -2], [-3, 3], [2, 2], [-1, 0], [3, -3]])
    out = translate(x, shifts, "circular")
    for b, (dy, dx) in enumerate(shifts.tolist()):
        assert torch.equal(out[b], torch.roll(x[b], shifts=(dy, dx), dims=(-2, -1)))


def test_random_circular_shift_is_a_roll_within_max_shift() -> None:
    x = torch.randn(16, 3, 10, 10)
    out = random_shift(x, 2, "circular", generator=torch.Generator().manual_seed(1))
    rolls = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    found = []
    for b in range(16):
        hits = [s for s in rolls if torch.equal(out[b], torch.roll(x[b], s, dims=(-2, -1)))]
        assert hits, f"image {b} is not a roll by at most 2 px"
        found.append(hits[0])
    assert len(set(found)) > 1  # one offset per image, not one per batch


def test_zero_shift_moves_content_and_fills_zeros() -> None:
    x = torch.arange(1, 17, dtype=torch.float32).view(1, 1, 4, 4)
    out = translate(x, torch.tensor([[1, -2]]), "zeros")  # down 1, left 2
    expected = torch.tensor([[0, 0, 0, 0], [3, 4, 0, 0], [7, 8, 0, 0], [11, 12, 0, 0]],
                            dtype=torch.float32)
    assert torch.equal(out[0, 0], expected)
    reflect = translate(x, torch.tensor([[0, 1]]), "reflect")
    assert torch.equal(reflect[0, 0, :, 0], x[0, 0, :, 1])  # reflected column
    assert torch.equal(reflect[0, 0, :, 1:], x[0, 0, :, :3])


def test_replicate_shift_repeats_the_edge_row() -> None:
    x = torch.arange(1, 17, dtype=torch.float32).view(1, 1, 4, 4)
    out = translate(x, torch.tensor([[-2, 0]]), "replicate")  # up 2
    assert torch.equal(out[0, 0, :2], x[0, 0, 2:])
    assert torch.equal(out[0, 0, 2], x[0, 0, 3]) and torch.equal(out[0, 0, 3], x[0, 0, 3])


def test_translate_keeps_uint8_dtype_and_values_in_every_mode() -> None:
    x = torch.randint(0, 256, (3, 3, 6, 6), dtype=torch.uint8)
    shifts = torch.tensor([[1, 2], [-2, 0], [0, -1]])
    for mode in SHIFT_MODES:
        out = translate(x, shifts, mode)
        assert out.dtype == torch.uint8 and out.shape == x.shape
        assert torch.equal(out, translate(x.float(), shifts, mode).to(torch.uint8))


def test_translate_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        translate(torch.zeros(3, 8, 8), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"shifts must have shape \(2, 2\)"):
        translate(torch.zeros(2, 3, 8, 8), torch.zeros(3, 2))


def test_random_shift_is_repeatable_and_in_range() -> None:
    x = torch.randn(4, 3, 8, 8)
    a = random_shift(x, 3, generator=torch.Generator().manual_seed(5))
    b = random_shift(x, 3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    s = draw_shifts(1000, 3, generator=torch.Generator().manual_seed(0))
    assert s.min() == -3 and s.max() == 3 and s.shape == (1000, 2)


def test_draw_shifts_uses_the_global_rng_without_a_generator() -> None:
    torch.manual_seed(11)
    a = draw_shifts(50, 2)
    torch.manual_seed(11)
    b = draw_shifts(50, 2)
    assert torch.equal(a, b) and a.dtype == torch.long
    assert set(a.flatten().tolist()) == {-2, -1, 0, 1, 2}


def test_bad_shift_arguments_are_user_errors() -> None:
    x = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ChanposError, match="max shift must be"):
        random_shift(x, -1)
    with pytest.raises(ChanposError, match="unknown shift mode 'wrap'"):
        random_shift(x, 1, "wrap")
    with pytest.raises(ChanposError, match="too large"):
        random_shift(x, 8, "reflect")


def test_check_shift_limits_depend_on_the_padding_mode() -> None:
    check_shift(7, "reflect", (8, 8))  # reflect needs max_shift <= size - 1
    with pytest.raises(ChanposError, match=r"at most 7"):
        check_shift(8, "reflect", (8, 8))
    check_shift(8, "circular", (8, 9))  # circular/replicate allow up to the size
    with pytest.raises(ChanposError, match=r"at most 8"):
        check_shift(9, "replicate", (8, 9))
    check_shift(100, "zeros", (8, 8))  # zeros has no upper limit
    with pytest.raises(ChanposError, match="whole number"):
        check_shift(1.5, "zeros")  # type: ignore[arg-type]


def test_translate_keeps_the_input_memory_format() -> None:
    """A shifted batch keeps its caller's layout: a channels_last result would make a narrow
    model's convs run channels_last, whose strided 1x1 backward corrupts the heap on AVX2."""
    x = torch.randn(3, 3, 8, 8)
    shifts = torch.tensor([[1, -2], [0, 0], [-3, 1]])
    out = translate(x, shifts)
    assert out.is_contiguous()
    assert torch.equal(out, translate(x, shifts).contiguous())
    cl = translate(x.contiguous(memory_format=torch.channels_last), shifts)
    assert cl.is_contiguous(memory_format=torch.channels_last) and not cl.is_contiguous()
    assert torch.equal(cl, out)
    assert random_shift(x, 2).is_contiguous()
