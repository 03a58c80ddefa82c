"""chanpos: position information encoded channel-wise in CNNs (Islam et al., ICCV 2021).

Subpackages: `models` (backbones, GAPNet/PermuteNet, padding, registry), `data` (grid
placement, sources), `probes` (invariance, channel ranking and ablation, mIoU),
`training` (Lightning systems, `fit`), `experiments` (one module per paper artefact).
"""

from .errors import ChanposError

__version__ = "0.1.0"
__all__ = ["ChanposError", "__version__"]
