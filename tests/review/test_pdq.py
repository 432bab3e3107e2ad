"""PDQ against Meta's published reference vector, its invariants, and the index against brute force."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from livegate.review.signals.hashbank import example_picture
from livegate.review.signals.pdq import PdqHash, PdqIndex, _box_1d, pdq_hash_bytes, pdq_hash_rgb

# The reference vector of python-threatexchange's PDQ hasher test (a 26x28 RGBA PNG and the
# hash Meta's C++ PDQ gives it), used here as data to check our implementation against.
REFERENCE_PNG_B64 = """
iVBORw0KGgoAAAANSUhEUgAAABoAAAAcCAYAAAB/E6/TAAABQGlDQ1BJQ0MgUHJvZmlsZQAAKJFj
YGASSCwoyGFhYGDIzSspCnJ3UoiIjFJgf8rAzMDDwMGgziCUmFxc4BgQ4ANUwgCjUcG3awyMIPqy
LsisbUEsbr4sN5Y9iTOwFjbIZsFUjwK4UlKLk4H0HyBOTC4oKmFgYEwAspXLSwpA7BYgW6QI6Cgg
ewaInQ5hrwGxkyDsA2A1IUHOQPYVIFsgOSMxBch+AmTrJCGJpyOxofaCAHuokbmlgRMBl5IBSlIr
SkC0c35BZVFmekaJgiMwhFIVPPOS9XQUjAyMDBkYQOENUf1ZDByOjGKnEGIF/gwMlmUMDEyJCLE4
FwaG7coMDPyFCDENoL/40xgYDkYXJBYlwh3A+I2lOM3YCMLmKWJgYP3x//9nWaCXdzEw/C36///3
3P///y5hYGC+ycBwoBAAJoJZwzimB1MAAACKZVhJZk1NACoAAAAIAAQBGgAFAAAAAQAAAD4BGwAF
AAAAAQAAAEYBKAADAAAAAQACAACHaQAEAAAAAQAAAE4AAAAAAAAAkAAAAAEAAACQAAAAAQADkoYA
BwAAABIAAAB4oAIABAAAAAEAAAAaoAMABAAAAAEAAAAcAAAAAEFTQ0lJAAAAU2NyZWVuc2hvdB0L
cNQAAAAJcEhZcwAAFiUAABYlAUlSJPAAAAHUaVRYdFhNTDpjb20uYWRvYmUueG1wAAAAAAA8eDp4
bXBtZXRhIHhtbG5zOng9ImFkb2JlOm5zOm1ldGEvIiB4OnhtcHRrPSJYTVAgQ29yZSA1LjQuMCI+
CiAgIDxyZGY6UkRGIHhtbG5zOnJkZj0iaHR0cDovL3d3dy53My5vcmcvMTk5OS8wMi8yMi1yZGYt
c3ludGF4LW5zIyI+CiAgICAgIDxyZGY6RGVzY3JpcHRpb24gcmRmOmFib3V0PSIiCiAgICAgICAg
ICAgIHhtbG5zOmV4aWY9Imh0dHA6Ly9ucy5hZG9iZS5jb20vZXhpZi8xLjAvIj4KICAgICAgICAg
PGV4aWY6UGl4ZWxYRGltZW5zaW9uPjI2PC9leGlmOlBpeGVsWERpbWVuc2lvbj4KICAgICAgICAg
PGV4aWY6VXNlckNvbW1lbnQ+U2NyZWVuc2hvdDwvZXhpZjpVc2VyQ29tbWVudD4KICAgICAgICAg
PGV4aWY6UGl4ZWxZRGltZW5zaW9uPjI4PC9leGlmOlBpeGVsWURpbWVuc2lvbj4KICAgICAgPC9y
ZGY6RGVzY3JpcHRpb24+CiAgIDwvcmRmOlJERj4KPC94OnhtcG1ldGE+ChyymmEAAAAcaURPVAAA
AAIAAAAAAAAADgAAACgAAAAOAAAADgAAAmByXymqAAACLElEQVRIDYRTO2wTQRB949zZvoS4MIYk
pgpIIJQGEYlUKIgCaFIh0UQoLS2RKKChixCIgAiIlCAEHULQQZMCmhQgUSIEdIkcG+zYJHeHnVtm
72Pvntcwxc3O7Mx789mjSqUiYJAOCO9/WXhXs/FlZwgVP4NNLxNGTuQDjOUCHBvZw7lSG6eLHVgw
wnSRKU1U+5PBne95vNzModVJJQu2iQCpFRm1CBcnfFw74qOUDZSb3rFL1BaE5W85rP7IYncvDpB4
jNstNiGR2iDDQ8CVSR+LTGiTXkxIVOWxLHxy8LHOkf+SAR11U+JCposBnp50cYDHmwitfa2J+XUH
G66pyr6WOC/x8VGuTGJFq+ud2Vd2BF7MuDheiMZD5We/xcZO3CZxhuAoqU2S3EktJR2fui+PEN7O
ujjInREet3rD7BtNsqC4W+a/ccLG/FEbhwuEDLt32wINH9hyA8y88rSG5aOZ3g+8nvWY6GFzMJGy
/PE88PyCg7OHrKgbw5cetdirjDaOWZySP8uD7R5ROjnJYf1mzsHcpJ2O0GxaaWp2+BtwscNcG+Fe
QyFSkMOUaHRnyhbWLu3TQQwW3d9mb4IhA5KzYKK7dYXIkM2uJ+cdLEzlzJeKl5YbiqUfCbd/SrpI
0o8h3tH65QJOjetjW/3s4eYHD1vh350A6OAhbtwU4Vbtvx01rxYxmtXBxlbqTBI/8xS+ySQsVQcT
xdWI66W+XFqqsi/aYaT7QrTrvwAAAP//WDKhWgAAAcFJREFUjVLPSwJBFH5P65B08JKSZUh56dy9
U39Fh6AQpF/0wygIScSICCKKIIKi6NApomtg0Dno0jkVs6ws0qAfdLDXzO66M+606sDuvvne9973
vtlBSBQI6iyKtikMXH5RsFoAQvxZCPEI2VNBjJhiHqUHxguCy3l8Wet1VHsjxJ7IbGwkKO6VKI2F
qWIZgpuvQoyXScII0XxlfpbRLVCivbHuEusi/QMDB28SwsIqocUH1dGKr7qggd3+9ReETkuiuaUG
YeFecqRnabXDQqu/XUq+QyL5YUtEmMuRdmIShdY6pV1j4fBJEQ6vPhlZvk2iFiHChEgxpTOQFbEc
rftFhRFhJCd62t06ox7YF2E6y1TsmHpX2uhShWbuFKwWgDCZsbEjymgrIDZGhFNZzS2f1vZEDK6r
mTsaT0uOrP34DAi0HbAmACcyCmaKcnG++C9h8Wx/E+symlKut85ib2Na2uk2oUqAY0zIaGQ64v31
2XQai/v8TjgbcQH65jOUL5Ur9f9+abdHwTGcMgfRBuIMi7DP7YTzcAt4WtnRXd480uDRN+RLvwrR
dLQXVIVCt/xUqx1ILJ/bAcdDLuj1OjT0DwULeQovxm67AAAAAElFTkSuQmCC
"""
REFERENCE_PDQ = "ad64cd9875e131a177b1f2a0d6b38ae1de9ea80421e4c51dde1b0363deba3466"


def test_reference_vector() -> None:
    h = pdq_hash_bytes(base64.b64decode(REFERENCE_PNG_B64))
    assert h.hex == REFERENCE_PDQ
    assert h.quality == 100


def test_hex_round_trip_and_distance() -> None:
    h = PdqHash.from_hex(REFERENCE_PDQ)
    assert h.hex == REFERENCE_PDQ
    flipped = PdqHash.from_hex(f"{int(REFERENCE_PDQ, 16) ^ 0b1011:064x}")
    assert h.distance(flipped) == 3
    with pytest.raises(ValueError):
        PdqHash.from_hex("xyz")


def test_half_the_bits_are_set_and_flat_pictures_have_no_quality() -> None:
    h = pdq_hash_rgb(example_picture(5))
    assert sum(w.bit_count() for w in h.words) == 128
    assert h.quality >= 50
    assert pdq_hash_rgb(np.full((100, 100, 3), 90, np.uint8)).quality == 0
    assert pdq_hash_rgb(np.zeros((3, 3, 3), np.uint8)).quality == 0


def test_box_filter_matches_the_reference_phase_structure() -> None:
    # The reference's comment: window 7 over 0..15 gives 6, 10, 15, 21, 28, ... 84, 75, 65, 54 (sums).
    x = np.arange(16, dtype=np.float64)
    out = _box_1d(x[None, :], 7, axis=1)[0]
    sums = [6, 10, 15, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 75, 65, 54]
    counts = [4, 5, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 5, 4]
    assert np.allclose(out, np.array(sums) / np.array(counts))
    out8 = _box_1d(x[None, :], 8, axis=1)[0]
    sums8 = [10, 15, 21, 28, 36, 44, 52, 60, 68, 76, 84, 92, 84, 75, 65, 54]
    counts8 = [5, 6, 7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 7, 6, 5, 4]
    assert np.allclose(out8, np.array(sums8) / np.array(counts8))


def test_robust_to_recompression_and_scaling_but_not_to_other_pictures() -> None:
    pic = example_picture(7, (480, 640))
    h = pdq_hash_rgb(pic)
    buf = io.BytesIO()
    Image.fromarray(pic).resize((320, 240)).save(buf, format="JPEG", quality=40)
    assert h.distance(pdq_hash_bytes(buf.getvalue())) <= 16
    assert h.distance(pdq_hash_rgb(example_picture(8, (480, 640)))) > 64


def test_index_agrees_with_brute_force() -> None:
    rng = np.random.default_rng(3)
    words = rng.integers(0, 2**63, size=(5000, 4), dtype=np.uint64)
    idx = PdqIndex(capacity=16)
    idx.add_many(np.arange(5000, dtype=np.int64), words)
    query = PdqHash(tuple(int(w) for w in words[42]), 100)  # type: ignore[arg-type]
    near = words[42].copy()
    near[0] ^= np.uint64(0b111)
    idx.add(9999, PdqHash(tuple(int(w) for w in near), 100))  # type: ignore[arg-type]
    hits = idx.query(query, 31)
    brute = sorted((i, sum(bin(int(a) ^ int(b)).count("1") for a, b in zip(row, words[42], strict=True)))
                   for i, row in enumerate(words))
    expected = {i for i, d in brute if d <= 31} | {9999}
    assert {i for i, _ in hits} == expected
    assert hits[0] == (42, 0) and hits[1] == (9999, 3)
    idx.remove(42)
    assert [i for i, _ in idx.query(query, 31)] == [9999]


def test_banded_downsample_equals_the_four_box_passes() -> None:
    from livegate.review.signals.pdq import _window, downsample_64, luminance

    rng = np.random.default_rng(5)
    pic = (rng.random((483, 641, 3)) * 255).astype(np.uint8)
    luma = luminance(pic).astype(np.float64)
    buf = luma
    for _ in range(2):  # the reference's order: along rows, then along columns, twice
        buf = _box_1d(buf, _window(641, 64), axis=1)
        buf = _box_1d(buf, _window(483, 64), axis=0)
    ri = ((np.arange(64) + 0.5) * 483 / 64).astype(np.int64)
    ci = ((np.arange(64) + 0.5) * 641 / 64).astype(np.int64)
    assert np.allclose(downsample_64(luma), buf[np.ix_(ri, ci)], atol=1e-3)


def test_wide_radius_falls_back_to_a_full_scan() -> None:
    rng = np.random.default_rng(9)
    words = rng.integers(0, 2**63, size=(6000, 4), dtype=np.uint64)
    idx = PdqIndex()
    idx.add_many(np.arange(6000, dtype=np.int64), words)
    q = PdqHash(tuple(int(w) for w in words[7]), 100)  # type: ignore[arg-type]
    far = words[7].copy()
    far[1] ^= np.uint64((1 << 40) - 1)  # 40 bits away
    idx.add(77777, PdqHash(tuple(int(w) for w in far), 100))  # type: ignore[arg-type]
    assert [i for i, _ in idx.query(q, 31)] == [7]
    assert [i for i, _ in idx.query(q, 40)][:2] == [7, 77777]
