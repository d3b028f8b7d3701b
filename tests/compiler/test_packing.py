"""`continuity: auto` packs a sequence into the fewest requests the profile allows.

Checked with hypothesis against a brute-force search over every split of small sequences.
"""

from __future__ import annotations

from itertools import combinations, pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from storyboard.compiler.resolve import Settings, group_limits, pack
from storyboard.language.checked import ShotInfo
from storyboard.language.model import Shot
from storyboard.profiles import get_profile

PROFILE = get_profile("klingai:kling-video@o3-pro")
assert PROFILE is not None


def make_shot(i: int, duration: int, elements: list[str], long_prompt: bool) -> ShotInfo:
    refs = " ".join(f"<<<{e}>>>" for e in elements)
    prompt = f"shot {i} {refs} " + ("x" * 520 if long_prompt else "y")
    shot = Shot(id=f"s{i}", prompt=prompt, duration=duration)
    return ShotInfo(shot, ("shots", 0, "shots", i), i + 1, "seq", prompt, duration)


def make_settings(sound: bool) -> Settings:
    return Settings(PROFILE.model_id, sound, None, None, (), ())  # type: ignore[union-attr]


shots_strategy = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=9),  # duration
        st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=2, unique=True),  # elements
        st.booleans(),  # sound
        st.integers(min_value=0, max_value=9).map(lambda n: n == 0),  # a rare long prompt
    ),
    min_size=1,
    max_size=8,
)


def brute_force(n: int, fits) -> int | None:  # type: ignore[no-untyped-def]
    best = None
    for k in range(0, n):
        for cuts in combinations(range(1, n), k):
            bounds = [0, *cuts, n]
            if all(fits(a, b) for a, b in pairwise(bounds)):
                best = k + 1 if best is None else min(best, k + 1)
        if best is not None:
            return best
    return best


@settings(max_examples=300, deadline=None)
@given(shots_strategy)
def test_pack_is_minimal_and_valid(spec: list[tuple[int, list[str], bool, bool]]) -> None:
    shots = [make_shot(i, d, e, long) for i, (d, e, _, long) in enumerate(spec)]
    sets = [make_settings(sound) for (_, _, sound, _) in spec]

    def fits(i: int, j: int) -> bool:
        return not group_limits(shots[i:j], sets[i:j], PROFILE)  # type: ignore[arg-type]

    found = pack(len(shots), fits)
    expected = brute_force(len(shots), fits)
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert len(found) == expected
    # the groups cover the sequence in order, and each one fits
    assert found[0][0] == 0 and found[-1][1] == len(shots)
    assert all(a[1] == b[0] for a, b in pairwise(found))
    assert all(fits(i, j) for i, j in found)
    # deterministic
    assert pack(len(shots), fits) == found


def test_pack_prefers_long_early_groups() -> None:
    # three 5 s shots: (10, 5) and (5, 10) are both minimal; the earlier group is longer.
    shots = [make_shot(i, 5, [], False) for i in range(3)]
    sets = [make_settings(True)] * 3
    found = pack(3, lambda i, j: not group_limits(shots[i:j], sets[i:j], PROFILE))  # type: ignore[arg-type]
    assert found == [(0, 3)]
    shots = [make_shot(i, 6, [], False) for i in range(3)]
    found = pack(3, lambda i, j: not group_limits(shots[i:j], sets[i:j], PROFILE))  # type: ignore[arg-type]
    assert found == [(0, 2), (2, 3)]


def test_group_limits_name_each_limit() -> None:
    shots = [make_shot(i, 3, ["a", "b"] if i == 0 else ["c", "d"], False) for i in range(7)]
    sets = [make_settings(True)] * 6 + [make_settings(False)]
    messages = [limit.message for limit in group_limits(shots, sets, PROFILE)]  # type: ignore[arg-type]
    assert any("at most 6 segments" in m for m in messages)
    assert any("add up to 21 s" in m for m in messages)
    assert any("sets 'sound' differently" in m for m in messages)
    assert any("4 elements in one request" in m for m in messages)
