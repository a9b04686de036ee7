"""Dictionary-diffusion segmentation: propagate sparse scribbles through a dictionary of patches.

Every pixel (voxel) gets the *word* of the ``M×M`` (``M×M×M``) patch centred on it; a word is a
cluster of similar patches. User labels are collected per (word, offset within the patch) and
spread back to every pixel covered by a patch with that word: ``P = T2 · T1 · L`` (Dahl et al.,
2020).

Modules: ``_features`` (DCT patch and Gaussian features), ``_clustering`` (k-means, k-means
tree, nearest word), ``_dictionary`` (one patch size's dictionary), ``_propagation`` (the T1/T2
numba kernels), ``_segmenter`` (:class:`DictionarySegmenter`), ``_scribbles`` (the sparse label
format, :class:`Scribbles`).
"""

from ._scribbles import Scribbles, load_scribbles, save_scribbles
from ._segmenter import DictionarySegmenter, segment

__all__ = ["DictionarySegmenter", "Scribbles", "load_scribbles", "save_scribbles", "segment"]
