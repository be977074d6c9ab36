"""The purposes a person can consent to, each with the notice text they are shown.

Consent to one purpose never implies another. A grant records the notice version it was given
against; changing a notice means a new version, and new grants must name it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Notice:
    purpose: str
    version: str
    zh: str
    en: str


NOTICES: dict[str, Notice] = {
    n.purpose: n
    for n in (
        Notice(
            "kyc_face_verification",
            "2026-11-01",
            "为完成实名认证，我们将采集您的人脸图像，与公安机关留存的身份证照片比对。"
            "比对结果和证据将按反洗钱规定保存至账户注销后五年。您也可以选择银行卡认证。",
            "To verify your real name we capture your face and compare it with the photo the identity "
            "authority holds for your ID number. The result and its evidence are kept for five years "
            "after your account is closed, as anti-money-laundering rules require. You may use bank-card "
            "verification instead.",
        ),
        Notice(
            "face_pay",
            "2026-11-01",
            "开通刷脸支付后，我们会加密保存您的人脸特征，用于在合作商户的设备上识别您并完成付款。"
            "商户不会获得您的人脸图像、特征或身份信息。您可以随时关闭，关闭后特征立即删除。",
            "With face pay on, we keep an encrypted template of your face to recognise you at partner "
            "terminals and complete payments. Merchants never receive your face image, template or "
            "identity. You can switch it off at any time; the template is deleted at once.",
        ),
        Notice(
            "credit_face_verification",
            "2026-11-01",
            "分期和借款前，我们会将您的实时人脸与实名认证时的人脸比对，以确认是您本人操作。",
            "Before an installment purchase or a loan, we compare your live face with the face from your "
            "real-name verification, to make sure it is you.",
        ),
    )
}

PURPOSES = tuple(NOTICES)
