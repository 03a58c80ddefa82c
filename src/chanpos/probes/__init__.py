"""Probes that work on any nn.Module: shift consistency (Table 2 of Islam et al., ICCV 2021),
channel ranking and ablation, segmentation metrics (Figures 4-6)."""

from .ablation import (
    SegmentationParts,
    ablate_channels,
    attack_confusions,
    head_channels,
    predict_labels,
    segmentation_parts,
)
from .channels import ChannelRanking, check_feature_layer, rank_position_channels, resolve_layer
from .invariance import (
    SHIFT_MODES,
    draw_shifts,
    prediction_agreement,
    random_shift,
    shift_consistency,
    shift_protocol,
    translate,
)
from .segmentation import (
    REGIONS,
    confusion_matrix,
    miou_from_confusion,
    region_confusion,
    region_mask,
    segmentation_miou,
    zone_confusions,
)

__all__ = [
    "REGIONS",
    "ChannelRanking",
    "check_feature_layer",
    "head_channels",
    "SegmentationParts",
    "ablate_channels",
    "attack_confusions",
    "confusion_matrix",
    "miou_from_confusion",
    "predict_labels",
    "rank_position_channels",
    "region_confusion",
    "region_mask",
    "resolve_layer",
    "segmentation_miou",
    "segmentation_parts",
    "zone_confusions",
    "SHIFT_MODES",
    "draw_shifts",
    "prediction_agreement",
    "random_shift",
    "shift_consistency",
    "shift_protocol",
    "translate",
]
