"""Sorting kernels: TopKV2 rows, Unique, and the last-axis scatter/gather of top_k's gradient.

Order used everywhere: larger values first, NaN counted as the largest, and
equal values keep their original order (the lower index first), as TF's TopK.
"""
import numpy as np

from nbflow.kernels.jit import njit


def first_descending(a, ia, b, ib):
    """Does value ``a`` (at index ia) come before ``b`` (at ib) in descending order?
    (TF's TopK order; one Python source for the CPU's njit and the GPU's device function.)"""
    if a > b:
        return True
    if a < b:
        return False
    if a == b:
        return ia < ib
    if a != a:  # NaN: the largest; NaNs keep their order
        return b == b or ia < ib
    return False


_first = njit(cache=True)(first_descending)


_RUN = 16  # runs this short are insertion-sorted before merging


@njit(cache=True)
def sort_descending(keys, idx, keys_tmp, idx_tmp):
    """Stable sort of the pairs (keys[i], idx[i]) in descending order of keys
    (``_first``): insertion-sorted runs of 16, then bottom-up merges between the
    arrays and the two scratch buffers."""
    n = keys.shape[0]
    for lo in range(0, n, _RUN):
        hi = min(lo + _RUN, n)
        for i in range(lo + 1, hi):
            kv = keys[i]
            iv = idx[i]
            j = i - 1
            while j >= lo and _first(kv, iv, keys[j], idx[j]):
                keys[j + 1] = keys[j]
                idx[j + 1] = idx[j]
                j -= 1
            keys[j + 1] = kv
            idx[j + 1] = iv
    src_k, src_i, dst_k, dst_i = keys, idx, keys_tmp, idx_tmp
    in_tmp = False
    width = _RUN
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if _first(src_k[j], src_i[j], src_k[i], src_i[i]):  # right strictly first: stable
                    dst_k[k] = src_k[j]
                    dst_i[k] = src_i[j]
                    j += 1
                else:
                    dst_k[k] = src_k[i]
                    dst_i[k] = src_i[i]
                    i += 1
                k += 1
            while i < mid:
                dst_k[k] = src_k[i]
                dst_i[k] = src_i[i]
                i += 1
                k += 1
            while j < hi:
                dst_k[k] = src_k[j]
                dst_i[k] = src_i[j]
                j += 1
                k += 1
        src_k, dst_k = dst_k, src_k
        src_i, dst_i = dst_i, src_i
        in_tmp = not in_tmp
        width *= 2
    if in_tmp:
        keys[:] = keys_tmp[:]
        idx[:] = idx_tmp[:]


@njit(cache=True)
def top_k_rows(x, k, values, indices):
    """For each row of ``x`` (rows, n): its k largest values, in descending order, and their indices.

    A small k keeps a sorted buffer of the best k seen so far (most elements
    fail one comparison with the k-th); otherwise the row is sorted."""
    rows, n = x.shape
    if k == 0:
        return
    if k <= _RUN and k < n:
        best_k = np.empty(k, dtype=x.dtype)
        best_i = np.empty(k, dtype=np.int64)
        for r in range(rows):
            count = 0
            for i in range(n):
                v = x[r, i]
                if count == k and not _first(v, i, best_k[k - 1], best_i[k - 1]):
                    continue
                j = count - 1 if count < k else k - 2
                if count < k:
                    count += 1
                while j >= 0 and _first(v, i, best_k[j], best_i[j]):
                    best_k[j + 1] = best_k[j]
                    best_i[j + 1] = best_i[j]
                    j -= 1
                best_k[j + 1] = v
                best_i[j + 1] = i
            for j in range(k):
                values[r, j] = best_k[j]
                indices[r, j] = best_i[j]
        return
    keys = np.empty(n, dtype=x.dtype)
    idx = np.empty(n, dtype=np.int64)
    keys_tmp = np.empty(n, dtype=x.dtype)
    idx_tmp = np.empty(n, dtype=np.int64)
    for r in range(rows):
        for i in range(n):
            keys[i] = x[r, i]
            idx[i] = i
        sort_descending(keys, idx, keys_tmp, idx_tmp)
        for j in range(k):
            values[r, j] = keys[j]
            indices[r, j] = idx[j]


@njit(cache=True)
def unique_first_order(x, y, idx):
    """TF's Unique: ``y`` gets the distinct values of ``x`` in order of first
    appearance, ``idx[i]`` the position of ``x[i]`` in ``y``. Returns len(y).
    Every NaN is distinct (NaN != NaN)."""
    n = x.shape[0]
    if n == 0:
        return 0
    keys = x.copy()
    order = np.arange(n)
    sort_descending(keys, order, np.empty_like(keys), np.empty(n, dtype=np.int64))
    # Equal values are now adjacent, each run in index order: its first entry
    # is the value's first occurrence.
    group = np.empty(n, dtype=np.int64)      # group number of order[i]
    first = np.empty(n, dtype=np.int64)      # first occurrence of each group
    g = 0
    first[0] = order[0]
    group[0] = 0
    for i in range(1, n):
        if keys[i] != keys[i - 1]:
            g += 1
            first[g] = order[i]
        group[i] = g
    count = g + 1
    # number the groups by first occurrence: walk the positions in order
    group_at = np.full(n, -1, dtype=np.int64)
    for gi in range(count):
        group_at[first[gi]] = gi
    rank = np.empty(count, dtype=np.int64)
    r = 0
    for i in range(n):
        if group_at[i] >= 0:
            rank[group_at[i]] = r
            y[r] = x[i]
            r += 1
    for i in range(n):
        idx[order[i]] = rank[group[i]]
    return count


@njit(cache=True)
def scatter_last_axis(indices, updates, out):
    """out[r, :] = 0; out[r, indices[r, j]] += updates[r, j]  (rows, k) -> (rows, n)."""
    rows, k = indices.shape
    for r in range(rows):
        for c in range(out.shape[1]):
            out[r, c] = 0
        for j in range(k):
            out[r, indices[r, j]] += updates[r, j]


@njit(cache=True)
def gather_last_axis(params, indices, out):
    """out[r, j] = params[r, indices[r, j]]."""
    rows, k = indices.shape
    for r in range(rows):
        for j in range(k):
            out[r, j] = params[r, indices[r, j]]
