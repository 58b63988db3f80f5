"""Sparse-matrix helpers of the triage models and the similar-incident index, with no
scikit-learn import (the web server imports the index at start; scikit-learn only when it
first vectorizes)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def normalised(x: sp.spmatrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (empty rows stay empty); in place on a fresh matrix."""
    x = sp.csr_matrix(x, dtype=np.float32)
    lengths = np.diff(x.indptr)
    sums = np.zeros(x.shape[0], dtype=np.float32)
    filled = lengths > 0
    if filled.any():
        sums[filled] = np.add.reduceat(x.data * x.data, x.indptr[:-1][filled])
    norms = np.sqrt(sums)
    norms[norms == 0] = 1.0
    x.data /= np.repeat(norms, lengths)
    return x
