"""The catalogue of capture takes that the tests and the load tools send (tests/capture.py), checked
against the hand labels without decoding a frame: each take shows the actions its challenge asks, in
order, at 12-30 frames a second, holds no labelled edit, and shares no frame with another take of
its clip; a mirrored take is another capture; a world never hands out two takes that share a moment."""

from __future__ import annotations

import pytest
from capture import Material, Take, catalogue, labels, takes_of
from facepay import LI, ZHANG, ZHANG_TWIN

from facetrust.liveness.service import ACTION_FLOOR, QUICK_ACTIONS, STEP_UP_FLOOR
from facetrust.tools.evaluation.captures import labelled_cuts


@pytest.mark.parametrize("clip", sorted(labels()))
def test_each_take_shows_its_actions_in_order_without_an_edit_or_a_shared_frame(clip):
    label = labels()[clip]
    takes = catalogue(clip)
    for before, after in zip(takes, takes[1:]):
        assert before.last < after.first, (before.name, after.name)
    for take in takes:
        assert 12.0 <= label["fps"] / take.step <= 30.0 and 8 <= take.frame_count <= 90, take.name
        assert not any(a <= take.last and take.first <= b for a, b in labelled_cuts(label)), take.name
        assert len(set(take.actions)) == len(take.actions) and len(take.actions) in (1, 2), take.name
        shown_after = -1
        for action in take.actions:  # each asked action is labelled inside the take, after the previous one
            start = next((s for a, s, _ in take.shows if a == action and s > shown_after), None)
            assert start is not None, (take.name, action, take.shows)
            shown_after = start
        mirrored = take.mirror()
        assert mirrored.mirrored and not mirrored.overlaps(take) and mirrored.mirror() == take
        assert [a for a, _, _ in mirrored.shows] == [
            {"turn_left": "turn_right", "turn_right": "turn_left"}.get(a, a) for a, _, _ in take.shows
        ]


def test_the_kinds_meet_the_service_floors_and_the_people_have_what_their_worlds_use():
    for clip in labels():
        assert all(len(t.actions) == 1 and t.actions[0] in QUICK_ACTIONS for t in takes_of(clip, "payment"))
        assert all(len(t.actions) >= max(STEP_UP_FLOOR, ACTION_FLOOR["real_name"]) for t in takes_of(clip, "two"))
    # Zhang: real name, enrolment and two payments; her twin the same recordings mirrored. Li: real
    # name, enrolment, two step-ups, and twelve payments (the ledger test's).
    assert [len(ZHANG.takes(k)) for k in ("two", "payment")] == [4, 2]
    assert ZHANG_TWIN.takes("two") == [t.mirror() for t in ZHANG.takes("two")]
    assert [len(LI.takes(k)) for k in ("two", "payment")] == [4, 12]
    # d9's first two-action stretch is handed out before its second, in each orientation (capture.py).
    for mirrored in (False, True):
        first, second = [t for t in LI.takes("two") if t.mirrored == mirrored]
        assert LI.takes("two").index(first) < LI.takes("two").index(second) and first.first < second.first


def test_a_world_never_hands_out_two_takes_that_share_a_moment():
    world = Material()
    handed = [world.take(LI.takes("two"), "a pass") for _ in range(4)]
    assert len({(t.first, t.mirrored) for t in handed}) == 4
    with pytest.raises(AssertionError, match="no unused take left"):
        world.take(LI.takes("two"), "a fifth pass")
    shifted = Take(LI.clip, handed[0].first + 1, handed[0].last + 1, 2, ("blink",))  # the odd frames of a window
    assert world.free([shifted]) == [] and world.free([shifted.mirror()]) == []
    assert world.free(LI.takes("payment")) == LI.takes("payment")  # other stretches are free
