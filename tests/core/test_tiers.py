"""The tier of a match: exact, near-duplicate or similar."""
from core.tiers import tier


def test_tier_rules():
    assert tier(0.5, True, 0.99) == "exact"  # same content wins, whatever the score
    assert tier(0.995, False, 0.99) == tier(0.99, False, 0.99) == "near-duplicate"
    assert tier(0.9899, False, 0.99) == "similar"
    assert tier(0.9999, False, None) == "similar"  # no calibrated threshold: no near tier
