// "This is a new device — verify it's you": what the home page says when the platform signed the
// person in on a device that is not the account's (money cannot leave from it), or one in its
// cool-down after being verified. The device page (device.js) does the verifying.
import { addStrings, el, t } from "../ft.js";

addStrings({
  "dev.card_title": { zh: "这是一台新设备", en: "This is a new device" },
  "dev.card_new": { zh: "为保护您的资金，在您确认是本人之前，不能从这台设备付款、借款或开通刷脸支付。您可以正常查看账户。",
    en: "To protect your money, payments, loans and face pay cannot start from this device until you confirm it's you. You can still see everything." },
  "dev.card_go": { zh: "验证是本人", en: "Verify it's you" },
  "dev.card_cooling": { zh: "这台设备已验证。为保护您的资金，{until} 之后才能从这台设备付款或借款。",
    en: "This device is verified. To protect your money, payments and loans from it can start after {until}." },
});

export function when(iso) {
  return new Date(iso).toLocaleString();
}

// The notice for ``device`` (GET /v1/me/device), or null when money may leave from this device.
export function deviceNotice(device) {
  if (!device || !device.device_known || device.can_move_money) return null;
  if (device.bound) {
    return el("section", { class: "notice", id: "device-cooling", role: "note" },
      el("p", {}, t("dev.card_cooling", { until: when(device.cooldown_until) })));
  }
  return el("section", { class: "card", id: "new-device", "aria-labelledby": "new-device-title" },
    el("h2", { id: "new-device-title" }, t("dev.card_title")),
    el("p", {}, t("dev.card_new")),
    el("a", { class: "button", id: "new-device-go", href: "/app/device" }, t("dev.card_go")));
}
