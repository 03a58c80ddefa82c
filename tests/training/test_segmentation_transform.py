import torch

from chanpos.training.segmentation import SegmentationTransform

UNIT = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # mean 0, std 1: the output is the image / 255


def _left_marked(b: int = 2, h: int = 4, w: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.zeros(b, 3, h, w, dtype=torch.uint8)
    images[..., : w // 2] = 255
    labels = torch.zeros(b, h, w, dtype=torch.uint8)
    labels[..., : w // 2] = 1
    return images, labels


def test_flip_prob_one_mirrors_images_and_labels() -> None:
    images, labels = _left_marked()
    x, y = SegmentationTransform(*UNIT, flip_prob=1.0)((images, labels), train=True)
    assert torch.equal(x, images.flip(-1).float() / 255)
    assert torch.equal(y, labels.flip(-1).long())
    assert (x[..., 3:] == 1).all() and (x[..., :3] == 0).all() and (y[..., 3:] == 1).all()


def test_flip_prob_zero_mirrors_nothing() -> None:
    images, labels = _left_marked()
    x, y = SegmentationTransform(*UNIT, flip_prob=0.0)((images, labels), train=True)
    assert torch.equal(x, images.float() / 255) and torch.equal(y, labels.long())


def test_each_image_is_flipped_if_and_only_if_its_label_is() -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (32, 3, 5, 7), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 19, (32, 5, 7), dtype=torch.uint8, generator=g)  # unrelated to images
    torch.manual_seed(3)
    x, y = SegmentationTransform(*UNIT, flip_prob=0.5)((images, labels), train=True)
    flipped = []
    for b in range(32):
        img_flipped = torch.equal(x[b], images[b].flip(-1).float() / 255)
        assert img_flipped or torch.equal(x[b], images[b].float() / 255)
        lab_flipped = torch.equal(y[b], labels[b].flip(-1).long())
        assert lab_flipped or torch.equal(y[b], labels[b].long())
        assert img_flipped == lab_flipped, f"sample {b}"
        flipped.append(img_flipped)
    assert 0 < sum(flipped) < 32  # one coin per sample, both outcomes occur


def test_uint8_images_are_normalised_with_mean_and_std_and_labels_become_long() -> None:
    images = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    labels = torch.tensor([[[0, 255], [3, 1]]], dtype=torch.uint8)
    t = SegmentationTransform((0.5, 0.25, 0.0), (0.5, 0.25, 2.0), flip_prob=0.0)
    x, y = t((images, labels), train=True)
    # by hand: (0 - 0.5) / 0.5, (0.2 - 0.25) / 0.25, (1 - 0) / 2
    want = torch.tensor([-1.0, -0.2, 0.5]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    assert x.dtype == torch.float32 and torch.allclose(x, want, atol=1e-6)
    assert y.dtype == torch.long and y.tolist() == [[[0, 255], [3, 1]]]


def test_eval_never_flips_or_crops() -> None:
    images, labels = _left_marked()
    t = SegmentationTransform(*UNIT, flip_prob=1.0, crop=(2, 3))
    for _ in range(5):
        x, y = t((images, labels), train=False)
        assert torch.equal(x, images.float() / 255) and torch.equal(y, labels.long())


def _position_coded(b: int = 3, h: int = 10, w: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Every pixel's value (in every channel and in the label) is its index i * w + j."""
    code = torch.arange(h * w, dtype=torch.uint8).view(1, h, w).expand(b, h, w).clone()
    return code.unsqueeze(1).expand(b, 3, h, w).clone(), code


def test_random_crop_cuts_the_same_window_from_image_and_label() -> None:
    images, labels = _position_coded()
    t = SegmentationTransform(*UNIT, flip_prob=0.0, crop=(4, 5))
    windows = set()
    for _ in range(20):
        x, y = t((images, labels), train=True)
        assert x.shape == (3, 3, 4, 5) and y.shape == (3, 4, 5)
        top, left = divmod(int(y[0, 0, 0]), 12)
        assert 0 <= top <= 6 and 0 <= left <= 7
        window = labels[:, top:top + 4, left:left + 5].long()
        assert torch.equal(y, window)
        assert torch.equal((x * 255).round().long(), window.unsqueeze(1).expand(3, 3, 4, 5))
        windows.add((top, left))
    assert len(windows) > 1  # the offset is random


def test_crop_larger_than_the_image_keeps_the_whole_image() -> None:
    images, labels = _position_coded(h=4, w=5)
    x, y = SegmentationTransform(*UNIT, flip_prob=0.0, crop=(8, 8))((images, labels), train=True)
    assert torch.equal(y, labels.long()) and x.shape == (3, 3, 4, 5)


def test_crop_then_flip_moves_image_and_label_together() -> None:
    images, labels = _position_coded()
    x, y = SegmentationTransform(*UNIT, flip_prob=1.0, crop=(4, 5))((images, labels), train=True)
    assert torch.equal((x * 255).round().long(), y.unsqueeze(1).expand(3, 3, 4, 5))
    assert (y[:, :, 0] > y[:, :, -1]).all()  # mirrored: the left column has the larger codes


def test_channels_last_output_when_asked() -> None:
    images, labels = _left_marked()
    x, _ = SegmentationTransform(*UNIT, channels_last=True)((images, labels), train=False)
    assert x.is_contiguous(memory_format=torch.channels_last)
