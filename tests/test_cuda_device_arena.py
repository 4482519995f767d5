"""The free list of the device reservation (backends/cuda/device_arena.py; no numba-cuda needed):
first fit, alignment, coalescing, double release. The arena itself runs under the simulator:
tests/cuda_sim_cases_reserve.py."""
import pytest

from nbflow.backends.cuda.device_arena import ALIGNMENT, FreeList


def test_take_rounds_up_to_the_alignment_and_fails_when_nothing_fits():
    free = FreeList(4 * ALIGNMENT)
    assert free.take(1) == 0
    assert free.take(ALIGNMENT + 1) == ALIGNMENT  # two slots
    assert free.take(ALIGNMENT) == 3 * ALIGNMENT
    assert free.free_bytes == 0 and free.take(1) is None
    assert FreeList(0).take(1) is None


def test_release_coalesces_with_both_neighbours():
    free = FreeList(8 * ALIGNMENT)
    a, b, c = free.take(2 * ALIGNMENT), free.take(ALIGNMENT), free.take(2 * ALIGNMENT)
    assert (a, b, c) == (0, 2 * ALIGNMENT, 3 * ALIGNMENT)
    free.give_back(a, 2 * ALIGNMENT)
    free.give_back(c, 2 * ALIGNMENT)
    assert free.largest_free == 5 * ALIGNMENT and free.free_bytes == 7 * ALIGNMENT  # c merged with the tail
    assert free.take(3 * ALIGNMENT) == 3 * ALIGNMENT  # first fit: the merged range
    free.give_back(3 * ALIGNMENT, 3 * ALIGNMENT)
    free.give_back(b, ALIGNMENT)  # joins a and the tail: one range again
    assert free.largest_free == 8 * ALIGNMENT and free.free_bytes == 8 * ALIGNMENT


def test_first_fit_reuses_a_hole_before_the_tail():
    free = FreeList(6 * ALIGNMENT)
    a = free.take(ALIGNMENT)
    free.take(ALIGNMENT)
    free.give_back(a, ALIGNMENT)
    assert free.take(10) == a


def test_a_region_released_twice_is_an_error():
    free = FreeList(4 * ALIGNMENT)
    a = free.take(ALIGNMENT)
    free.take(ALIGNMENT)
    free.give_back(a, ALIGNMENT)
    with pytest.raises(RuntimeError, match="released twice"):
        free.give_back(a, ALIGNMENT)
    with pytest.raises(RuntimeError, match="released twice"):
        free.give_back(3 * ALIGNMENT, ALIGNMENT)  # never taken: inside the free tail
