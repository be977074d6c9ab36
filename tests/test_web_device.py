"""The user app on a new phone, in a real browser: the home page says "this is a new device — verify
it's you", the device page checks the face with the camera (a real person's clip through the real
liveness and matching), the money then waits the cool-down, and the old phone is told."""

from __future__ import annotations

import pytest
from facepay import ZHANG, register, signed_in_on
from playwright.sync_api import expect
from webworld import chromium, fix_challenge, new_page, require_browser, web_world

pytestmark = pytest.mark.browser
TURN_LEFT_RIGHT = (140, 260)  # Zhang's clip (d3): turn left 148-182, turn right 196-228


@pytest.fixture()
def world(tmp_path, database_url, shared_data):
    require_browser()
    with web_world(tmp_path, database_url, shared_data, [ZHANG]) as w:
        yield w


def raw(headers: dict) -> str:
    return headers["Authorization"].split(" ", 1)[1]


def test_a_new_phone_is_verified_by_face_and_the_old_one_is_told(world):
    register(world.client, world.app, world.hs, world.camera.shared_data, ZHANG)  # real name by face
    old = signed_in_on(world.client, world.hs, ZHANG.user, "zhang-old-phone")  # the account's device
    new = signed_in_on(world.client, world.hs, ZHANG.user, "zhang-new-phone")
    with chromium(world.camera.path) as browser:
        page = new_page(browser, world.base_url, lang="en")
        page.goto(f"/app/#token={raw(new)}")
        expect(page.locator("#new-device")).to_contain_text("This is a new device")
        page.locator("#new-device-go").click()
        expect(page.locator("#verify-face")).to_be_visible()
        expect(page.locator("#review")).to_be_visible()  # the way out when the face cannot prove it
        world.camera.show(ZHANG.clip, *TURN_LEFT_RIGHT)
        fix_challenge(page, world.app, ["turn_left", "turn_right"])
        page.locator("#verify-face").click()
        expect(page.locator("#device-cooling")).to_be_visible(timeout=60_000)
        assert page.locator("#error").is_hidden() and page.locator("#verify").is_hidden()
        assert page.errors == []

        told = new_page(browser, world.base_url, lang="zh")
        told.goto(f"/app/device#token={raw(old)}")
        expect(told.locator("#message-list li")).to_have_count(1)
        expect(told.locator("#message-list li")).to_contain_text("另一台设备已绑定到您的账户")
        assert told.errors == []
