// The console's words for the codes the risk engine stores: typologies, event kinds and outcomes,
// the keys of an event's details and the features a decision read, in Chinese and English, and
// how their values are shown to a person (money in yuan, shares as percentages, yes/no).
// tests/test_web_console_labels.py keeps a label here for every code the service can emit.
import { addStrings, lang, percent, t, yuan } from "../ft.js";

// One entry a line, `"key": { zh: "...", en: "..." },` (the test reads this file).
addStrings({
  // Typologies (facetrust/risk/rules/default.yaml, and identity_change: a real-name check naming
  // another person than the one the account is bound to, facetrust/identity/kyc.py)
  "typology.identity_change": { zh: "实名身份变更", en: "Identity change" },
  "typology.duplicate_identity": { zh: "人脸已属于其他账户", en: "Face on another account" },
  "typology.velocity_burst": { zh: "短时集中出款", en: "Velocity burst" },
  "typology.velocity_burst_severe": { zh: "严重的短时集中出款", en: "Severe velocity burst" },
  "typology.new_device_high_amount": { zh: "新设备大额", en: "New device, high amount" },
  "typology.shared_device_or_identity": { zh: "共用设备或身份", en: "Shared device or identity" },
  "typology.shared_face_money_out": { zh: "共用人脸账户出款", en: "Money out of a shared-face account" },
  "typology.bust_out": { zh: "养卡套现", en: "Bust-out" },
  "typology.bust_out_repeated": { zh: "多次养卡套现", en: "Repeated bust-out" },
  "typology.credit_draws_burst": { zh: "短时多次支用", en: "Burst of credit draws" },
  "typology.installment_cashout_merchant": { zh: "分期商户套现", en: "Installment cash-out at a merchant" },
  "typology.installment_cashout_merchant_strong": { zh: "分期商户套现（证据充分）", en: "Installment cash-out at a merchant (strong)" },
  "typology.repeated_face_failures": { zh: "人脸核验反复失败", en: "Repeated face failures" },
  "typology.repeated_face_failures_severe": { zh: "人脸核验大量失败", en: "Many face failures" },
  "typology.quick_return_loop": { zh: "快速退货循环", en: "Quick-return loop" },
  "typology.device_rebind_churn": { zh: "频繁更换绑定设备", en: "Device re-binding churn" },
  "typology.unusual_location": { zh: "异常付款地点", en: "Unusual location" },

  // Webhook deliveries (facetrust/webhooks/schemas.py: DeliveryStatus, Kind) and why an attempt got
  // no status (facetrust/webhooks/delivery.py: the endpoint's state or httpx's error class, lower-cased)
  "webhook_status.pending": { zh: "待发送", en: "Pending" },
  "webhook_status.delivering": { zh: "发送中", en: "Delivering" },
  "webhook_status.delivered": { zh: "已送达", en: "Delivered" },
  "webhook_status.dead": { zh: "已放弃", en: "Dead" },
  "webhook_kind.payment.paid": { zh: "付款成功", en: "Payment paid" },
  "webhook_kind.payment.declined": { zh: "付款被拒", en: "Payment declined" },
  "webhook_kind.payment.refunded": { zh: "付款已退款", en: "Payment refunded" },
  "webhook_kind.checkout.confirmed": { zh: "分期订单已确认", en: "Checkout confirmed" },
  "webhook_kind.plan.repaid": { zh: "分期已还清", en: "Plan repaid" },
  "webhook_kind.plan.overdue": { zh: "分期逾期", en: "Plan overdue" },
  "webhook_kind.loan.drawn": { zh: "借款已放款", en: "Loan drawn" },
  "webhook_kind.account.frozen": { zh: "账户已冻结", en: "Account frozen" },
  "webhook_kind.account.unfrozen": { zh: "账户已解冻", en: "Account unfrozen" },
  "webhook_kind.consent.withdrawn": { zh: "授权已撤回", en: "Consent withdrawn" },
  "webhook_kind.real_name.completed": { zh: "实名认证完成", en: "Real-name check completed" },
  "webhook_error.endpoint_disabled": { zh: "接收地址已停用", en: "Endpoint disabled" },
  "webhook_error.address_refused": { zh: "接收地址指向不允许的网络地址", en: "Endpoint address refused (not a public host)" },
  "webhook_error.connecterror": { zh: "无法连接接收方", en: "Could not connect" },
  "webhook_error.connecttimeout": { zh: "连接超时", en: "Connection timed out" },
  "webhook_error.readtimeout": { zh: "等待响应超时", en: "No answer in time" },
  "webhook_error.remoteprotocolerror": { zh: "接收方响应异常", en: "Broken answer" },

  // Device reviews (facetrust/devices/schemas.py ReviewOut.status)
  "review_status.pending": { zh: "待审核", en: "Pending" },
  "review_status.approved": { zh: "已通过", en: "Approved" },
  "review_status.denied": { zh: "已拒绝", en: "Denied" },

  // Reason codes of the rules (facetrust/risk/rules/default.yaml)
  "reason.velocity.account_10m": { zh: "账户 10 分钟内频繁出款", en: "Account money-out burst, 10 min" },
  "reason.velocity.account_1h": { zh: "账户 1 小时内频繁出款", en: "Account money-out burst, 1 h" },
  "reason.velocity.device_10m": { zh: "设备 10 分钟内频繁出款", en: "Device money-out burst, 10 min" },
  "reason.velocity.ip_10m": { zh: "IP 10 分钟内频繁出款", en: "IP money-out burst, 10 min" },
  "reason.velocity.retry_after_refusal": { zh: "被拒后重试", en: "Retry after a refusal" },
  "reason.velocity.amount_24h": { zh: "24 小时出款金额过高", en: "High amount out in 24 h" },
  "reason.velocity.severe": { zh: "出款频率极高", en: "Severe velocity" },
  "reason.device.new_for_account": { zh: "账户的新设备", en: "Device new to the account" },
  "reason.account.new": { zh: "新账户", en: "New account" },
  "reason.device.many_for_account": { zh: "账户使用设备过多", en: "Many devices for the account" },
  "reason.amount.above_history": { zh: "金额高于历史", en: "Amount above the account's history" },
  "reason.amount.high_without_history": { zh: "无历史的大额", en: "High amount without history" },
  "reason.identity.fresh_full_draw": { zh: "刚实名即用满额度", en: "Full draw right after real name" },
  "reason.identity.face_shared": { zh: "人脸关联多个账户", en: "Face shared by accounts" },
  "reason.identity.device_shared": { zh: "设备关联多个账户", en: "Device shared by accounts" },
  "reason.identity.address_shared": { zh: "地址关联多个账户", en: "Address shared by accounts" },
  "reason.identity.ip_shared": { zh: "IP 关联多个账户", en: "IP shared by accounts" },
  "reason.bust_out.amount_jump": { zh: "支用金额突增", en: "Jump in the amount drawn" },
  "reason.bust_out.maxes_line": { zh: "用满额度", en: "Line maxed out" },
  "reason.bust_out.liquid_goods": { zh: "易变现商品", en: "Easily resold goods" },
  "reason.bust_out.cash": { zh: "现金借款", en: "Cash loan" },
  "reason.credit.max_term": { zh: "最长期限", en: "Longest term" },
  "reason.credit.line_nearly_maxed": { zh: "额度接近用满", en: "Line nearly maxed" },
  "reason.merchant.max_term_heavy": { zh: "商户最长期限订单集中", en: "Merchant heavy on longest terms" },
  "reason.merchant.quick_refunds": { zh: "商户快速退款多", en: "Merchant's quick refunds" },
  "reason.merchant.refunds_heavy": { zh: "商户退款比例高", en: "Merchant's heavy refunds" },
  "reason.cashout.repeat_orders": { zh: "在同一商户反复下单", en: "Repeat orders at the merchant" },
  "reason.cashout.quick_returns": { zh: "分期订单快速退货", en: "Quick returns of installment orders" },
  "reason.device.rebind_repeated": { zh: "多次更换绑定设备", en: "Repeated device re-binding" },
  "reason.device.rebind_after_face_failures": { zh: "人脸核验失败后更换设备", en: "Re-binding after face failures" },
  "reason.cashout.refund_loop": { zh: "下单退款循环", en: "Order and refund loop" },
  "reason.face.failures_account": { zh: "账户人脸核验失败", en: "Account face failures" },
  "reason.face.failures_device": { zh: "设备人脸核验失败", en: "Device face failures" },
  "reason.face.failures_account_many": { zh: "账户人脸核验多次失败", en: "Many account face failures" },
  "reason.face.failures_device_many": { zh: "设备人脸核验多次失败", en: "Many device face failures" },
  "reason.location.far_from_usual": { zh: "远离常用地点", en: "Far from the usual places" },
  "reason.location.new_merchant": { zh: "新商户", en: "New merchant" },
  "reason.amount.above_usual": { zh: "金额高于平时", en: "Amount above usual" },
  "reason.location.impossible_travel": { zh: "不可能的移动速度", en: "Impossible travel" },
  "reason.velocity.credit_draws": { zh: "短时多次支用", en: "Several credit draws" },
  "reason.bust_out.repeated_draws": { zh: "多次支用用尽额度", en: "Line emptied in several draws" },
  "reason.face.failures_account_day": { zh: "账户 24 小时人脸核验失败", en: "Account face failures, 24 h" },
  "reason.face.failures_account_day_many": { zh: "账户 24 小时人脸核验多次失败", en: "Many account face failures, 24 h" },

  // Event kinds (facetrust/risk/events.py KINDS)
  "kind.login": { zh: "登录", en: "Sign-in" },
  "kind.real_name": { zh: "实名认证", en: "Real-name check" },
  "kind.liveness": { zh: "活体检测", en: "Liveness check" },
  "kind.face_verification": { zh: "人脸比对", en: "Face match" },
  "kind.face_pay.enrol": { zh: "开通刷脸支付", en: "Face pay switched on" },
  "kind.face_pay.revoke": { zh: "关闭刷脸支付", en: "Face pay switched off" },
  "kind.face_pay.dispute": { zh: "刷脸支付争议", en: "Face payment disputed" },
  "kind.face_pay.duplicate_identity": { zh: "刷脸支付：人脸已属于其他账户", en: "Face pay: face on another account" },
  "kind.payment_intent": { zh: "创建支付订单", en: "Payment order" },
  "kind.payment": { zh: "刷脸支付", en: "Face payment" },
  "kind.refund": { zh: "退款", en: "Refund" },
  "kind.installment": { zh: "分期", en: "Installment" },
  "kind.loan": { zh: "借款", en: "Loan" },
  "kind.repayment": { zh: "还款", en: "Repayment" },
  "kind.top_up": { zh: "充值", en: "Top-up" },
  "kind.credit_returned": { zh: "分期退货", en: "Installment goods returned" },
  "kind.device_rebind": { zh: "更换绑定设备", en: "Device re-bound" },
  "kind.account.freeze": { zh: "冻结账户", en: "Account frozen" },
  "kind.account.unfreeze": { zh: "解冻账户", en: "Account unfrozen" },

  // Event outcomes (facetrust/risk/events.py OUTCOMES; a decision is worded as action.*)
  "event_outcome.completed": { zh: "已完成", en: "Completed" },
  "event_outcome.passed": { zh: "通过", en: "Passed" },
  "event_outcome.failed": { zh: "未通过", en: "Failed" },
  "event_outcome.on_time": { zh: "按时", en: "On time" },
  "event_outcome.early": { zh: "提前", en: "Early" },
  "event_outcome.late": { zh: "逾期", en: "Late" },
  "event_outcome.quick": { zh: "下单后不久退货", en: "Soon after the order" },

  // The keys of an event's details
  "data.method": { zh: "方式", en: "method" },
  "data.purpose": { zh: "用途", en: "purpose" },
  "data.by": { zh: "操作人", en: "by" },
  "data.from": { zh: "原值", en: "from" },
  "data.reason": { zh: "理由", en: "reason" },
  "data.repayment_id": { zh: "还款编号", en: "repayment" },
  "data.kind": { zh: "还款方式", en: "repayment type" },
  "data.plan_kind": { zh: "计划类型", en: "plan" },
  "data.limit_fen": { zh: "额度", en: "limit" },
  "data.used_fen": { zh: "已用额度", en: "used" },
  "data.return_id": { zh: "退货编号", en: "return" },
  "data.cooldown_until": { zh: "冷静期至", en: "cool-down until" },
  "data.device_id": { zh: "设备", en: "device" },
  "data.previous_device_id": { zh: "原设备", en: "previous device" },
  "data.rebind_id": { zh: "更换编号", en: "re-binding" },
  "data.review_id": { zh: "审核编号", en: "review" },
  "data.merchant_return_id": { zh: "商户退货单号", en: "merchant's return" },
  "data.cancelled_installments": { zh: "取消的期数", en: "installments cancelled" },
  "data.full": { zh: "全部退货", en: "full return" },
  "data.hours_since_order": { zh: "距下单小时数", en: "hours since the order" },
  "data.other_accounts": { zh: "其他账户", en: "other accounts" },
  "data.best_score": { zh: "最高相似度", en: "best score" },
  "data.refund_id": { zh: "退款编号", en: "refund" },
  "data.channel": { zh: "渠道", en: "channel" },
  "data.ip_source": { zh: "IP 来源", en: "IP from" },
  "data.device_source": { zh: "设备来源", en: "device from" },

  // The keys of an audit record's details (facetrust/security/audit.py callers)
  "data.amount_fen": { zh: "金额", en: "amount" },
  "data.assignee": { zh: "处理人", en: "assignee" },
  "data.before": { zh: "修改前", en: "before" },
  "data.case_id": { zh: "案件编号", en: "case" },
  "data.daily_limit_fen": { zh: "每日限额", en: "daily limit" },
  "data.dispute_id": { zh: "争议编号", en: "dispute" },
  "data.event_id": { zh: "事件编号", en: "event" },
  "data.format_version": { zh: "格式版本", en: "format version" },
  "data.kinds": { zh: "事件类型", en: "kinds" },
  "data.replay": { zh: "重发编号", en: "replay" },
  "data.risk_decision": { zh: "风控决策", en: "risk decision" },
  "data.sections": { zh: "各部分条数", en: "sections" },
  "data.transaction_limit_fen": { zh: "单笔限额", en: "limit per payment" },
  "data.authentication_id": { zh: "认证编号", en: "authentication" },
  "data.calibration_id": { zh: "校准版本", en: "calibration" },
  "data.challenge_id": { zh: "验证码编号", en: "challenge" },
  "data.checkout_id": { zh: "分期订单编号", en: "checkout" },
  "data.decision_id": { zh: "风控决策编号", en: "decision" },
  "data.deleted": { zh: "删除条数", en: "deleted" },
  "data.events": { zh: "事件数", en: "events" },
  "data.failures": { zh: "失败次数", en: "failures" },
  "data.fee_bps": { zh: "费率（基点）", en: "fee (bps)" },
  "data.fields": { zh: "显示的字段", en: "fields shown" },
  "data.guardian": { zh: "监护人同意", en: "guardian" },
  "data.intent_id": { zh: "支付订单编号", en: "payment intent" },
  "data.live_face_sealed": { zh: "已加密保存人脸", en: "live face sealed" },
  "data.liveness_session_id": { zh: "活体检测编号", en: "liveness session" },
  "data.merchant_id": { zh: "商户编号", en: "merchant" },
  "data.merchant_order_id": { zh: "商户订单号", en: "merchant order" },
  "data.model_id": { zh: "模型版本", en: "model" },
  "data.notice_version": { zh: "告知书版本", en: "notice version" },
  "data.outcome": { zh: "结果", en: "outcome" },
  "data.plan_id": { zh: "计划编号", en: "plan" },
  "data.previous_limit_fen": { zh: "原额度", en: "previous limit" },
  "data.principal_fen": { zh: "本金", en: "principal" },
  "data.interest_fen": { zh: "利息", en: "interest" },
  "data.fee_fen": { zh: "手续费", en: "fee" },
  "data.penalty_fen": { zh: "罚息", en: "penalty" },
  "data.raw_image_id": { zh: "原始图像编号", en: "raw image" },
  "data.real_name_evidence_retained_until": { zh: "实名证据保留至", en: "evidence kept until" },
  "data.reasons": { zh: "原因", en: "reasons" },
  "data.records": { zh: "记录数", en: "records" },
  "data.retain_until": { zh: "保留至", en: "kept until" },
  "data.role": { zh: "角色", en: "role" },
  "data.score": { zh: "分数", en: "score" },
  "data.session_id": { zh: "会话编号", en: "session" },
  "data.sha256": { zh: "SHA-256 摘要", en: "SHA-256" },
  "data.template_id": { zh: "特征模板编号", en: "template" },
  "data.template_ids": { zh: "特征模板编号", en: "templates" },
  "data.templates": { zh: "特征模板数", en: "templates" },
  "data.tenant_id": { zh: "平台编号", en: "tenant" },
  "data.to": { zh: "新值", en: "to" },
  "data.transaction_id": { zh: "交易编号", en: "transaction" },
  "data.until": { zh: "截止", en: "until" },

  // Values of those keys that are codes
  "value.face": { zh: "人脸", en: "face" },
  "value.bank_card": { zh: "银行卡", en: "bank card" },
  "value.real_name": { zh: "实名认证", en: "real name" },
  "value.face_pay_enrolment": { zh: "开通刷脸支付", en: "face-pay enrolment" },
  "value.payment": { zh: "刷脸支付", en: "payment" },
  "value.installment": { zh: "分期", en: "installment" },
  "value.loan": { zh: "借款", en: "loan" },
  "value.payoff": { zh: "全部结清", en: "pay off" },
  "value.partial": { zh: "部分还款", en: "partial" },
  "value.app": { zh: "App", en: "app" },
  "value.peer": { zh: "连接地址", en: "connection" },
  "value.proxy": { zh: "代理", en: "proxy" },
  "value.platform": { zh: "平台", en: "platform" },
  "value.token": { zh: "登录凭证", en: "sign-in token" },
  "value.compliance": { zh: "合规", en: "compliance" },
  "value.credit": { zh: "信贷", en: "credit" },
  "value.face_pay": { zh: "刷脸支付", en: "face pay" },
  "value.kyc": { zh: "实名认证", en: "real name" },
  "value.risk": { zh: "风控", en: "risk" },
  "value.security": { zh: "安全", en: "security" },
  "value.personal_data_access": { zh: "个人数据查阅", en: "personal data access" },
  "value.yes": { zh: "是", en: "yes" },
  "value.no": { zh: "否", en: "no" },
  "value.none": { zh: "不适用", en: "n/a" },

  // Audit log actions (audit.append's callers)
  "audit_action.account.close": { zh: "注销账户", en: "Account closed" },
  "audit_action.account.freeze": { zh: "冻结账户", en: "Account frozen" },
  "audit_action.account.register": { zh: "开户", en: "Account registered" },
  "audit_action.account.reveal": { zh: "查看未脱敏信息", en: "Personal data revealed" },
  "audit_action.account.unfreeze": { zh: "解冻账户", en: "Account unfrozen" },
  "audit_action.bank_card_challenge.purge": { zh: "清除过期的银行卡验证", en: "Expired bank-card checks purged" },
  "audit_action.consent.grant": { zh: "同意授权", en: "Consent given" },
  "audit_action.consent.withdraw": { zh: "撤回授权", en: "Consent withdrawn" },
  "audit_action.credit.checkout": { zh: "发起分期订单", en: "Installment checkout offered" },
  "audit_action.credit.installment": { zh: "开通分期", en: "Installment plan opened" },
  "audit_action.credit.line": { zh: "设置信用额度", en: "Credit line set" },
  "audit_action.credit.loan": { zh: "借款", en: "Loan opened" },
  "audit_action.credit.return": { zh: "分期退货", en: "Installment goods returned" },
  "audit_action.credit.repayment": { zh: "还款", en: "Repayment" },
  "audit_action.data.export": { zh: "导出个人数据副本", en: "Personal data exported" },
  "audit_action.face_pay.dispute": { zh: "刷脸支付争议", en: "Face payment disputed" },
  "audit_action.face_pay.own_limits": { zh: "用户设置刷脸支付限额", en: "Face-pay limits set by the person" },
  "audit_action.face_pay.pause": { zh: "暂停刷脸支付", en: "Face pay paused" },
  "audit_action.face_pay.resume": { zh: "恢复刷脸支付", en: "Face pay resumed" },
  "audit_action.webhook.endpoint.create": { zh: "添加 Webhook 地址", en: "Webhook endpoint added" },
  "audit_action.webhook.endpoint.disable": { zh: "停用 Webhook 地址", en: "Webhook endpoint disabled" },
  "audit_action.webhook.replay": { zh: "重发 Webhook 事件", en: "Webhook event replayed" },
  "audit_action.device.bind": { zh: "绑定设备", en: "Device bound" },
  "audit_action.device.rebind": { zh: "更换绑定设备", en: "Device re-bound" },
  "audit_action.device.rebind_failed": { zh: "更换绑定设备未通过", en: "Device re-binding failed" },
  "audit_action.device.review_requested": { zh: "申请人工审核换绑", en: "Device review requested" },
  "audit_action.device.review_approved": { zh: "换绑审核通过", en: "Device review approved" },
  "audit_action.device.review_denied": { zh: "换绑审核拒绝", en: "Device review denied" },
  "audit_action.face_attempts.locked": { zh: "人脸核验暂时锁定", en: "Face checks locked" },
  "audit_action.face_pay.enrol": { zh: "开通刷脸支付", en: "Face pay switched on" },
  "audit_action.face_pay.enrol_refused": { zh: "拒绝开通刷脸支付", en: "Face-pay enrolment refused" },
  "audit_action.liveness.decide": { zh: "活体检测结果", en: "Liveness decided" },
  "audit_action.liveness_face.purge": { zh: "清除活体检测人脸", en: "Liveness faces purged" },
  "audit_action.liveness_fingerprint.purge": { zh: "清除活体检测指纹", en: "Liveness fingerprints purged" },
  "audit_action.merchant.register": { zh: "登记商户", en: "Merchant registered" },
  "audit_action.operator.create": { zh: "创建操作员", en: "Operator created" },
  "audit_action.operator.disable": { zh: "停用操作员", en: "Operator disabled" },
  "audit_action.operator.role": { zh: "更改操作员角色", en: "Operator role changed" },
  "audit_action.operator.token": { zh: "签发操作员凭证", en: "Operator token issued" },
  "audit_action.payment.declined": { zh: "支付被拒绝", en: "Payment declined" },
  "audit_action.payment.intent": { zh: "创建支付订单", en: "Payment intent created" },
  "audit_action.payment.paid": { zh: "支付成功", en: "Payment paid" },
  "audit_action.payment.refund": { zh: "退款", en: "Refund" },
  "audit_action.raw_image.purge": { zh: "清除原始图像", en: "Raw images purged" },
  "audit_action.raw_image.store": { zh: "保存原始图像", en: "Raw image stored" },
  "audit_action.real_name.bank_card": { zh: "银行卡实名认证", en: "Real name by bank card" },
  "audit_action.real_name.bank_card.code_exhausted": { zh: "银行卡验证码次数用尽", en: "Bank-card code attempts used up" },
  "audit_action.real_name.bank_card.code_sent": { zh: "发送银行卡验证码", en: "Bank-card code sent" },
  "audit_action.real_name.binding_released": { zh: "解除实名绑定", en: "Real-name binding released" },
  "audit_action.real_name.evidence_read": { zh: "调阅实名证据", en: "Real-name evidence read" },
  "audit_action.real_name.face": { zh: "人脸实名认证", en: "Real name by face" },
  "audit_action.real_name.identity_change_refused": { zh: "拒绝更换实名身份", en: "Identity change refused" },
  "audit_action.real_name.identity_check_failed": { zh: "身份核验未通过", en: "Identity check failed" },
  "audit_action.real_name.lookup": { zh: "查询实名记录", en: "Real-name records looked up" },
  "audit_action.real_name.purge": { zh: "清除实名记录", en: "Real-name records purged" },
  "audit_action.risk.case.assign": { zh: "分配案件", en: "Case assigned" },
  "audit_action.risk.case.close": { zh: "结案", en: "Case closed" },
  "audit_action.risk.case.export": { zh: "导出案件报告", en: "Case report exported" },
  "audit_action.template.delete": { zh: "删除人脸特征", en: "Face template deleted" },
  "audit_action.template.purge": { zh: "清除过期人脸特征", en: "Face templates purged" },
  "audit_action.template.read": { zh: "读取人脸特征", en: "Face template read" },
  "audit_action.template.read_all": { zh: "读取全部人脸特征", en: "All face templates read" },
  "audit_action.template.retain": { zh: "保留人脸特征", en: "Face template retained" },
  "audit_action.template.store": { zh: "保存人脸特征", en: "Face template stored" },
  "audit_action.tenant.create": { zh: "创建平台", en: "Tenant created" },
  "audit_action.terminal.register": { zh: "登记终端", en: "Terminal registered" },
  "audit_action.token.mint": { zh: "签发用户凭证", en: "User token issued" },
  "audit_action.wallet.top_up": { zh: "钱包充值", en: "Wallet topped up" },

  // Features (facetrust/risk/features.py FEATURES)
  "feature.account_money_out_10m": { zh: "账户 10 分钟内出款次数", en: "Account money-out, 10 min" },
  "feature.account_money_out_1h": { zh: "账户 1 小时内出款次数", en: "Account money-out, 1 h" },
  "feature.account_money_out_24h": { zh: "账户 24 小时内出款次数", en: "Account money-out, 24 h" },
  "feature.account_amount_out_24h": { zh: "账户 24 小时出款金额", en: "Account amount out, 24 h" },
  "feature.account_refused_out_24h": { zh: "账户 24 小时内被拒出款次数", en: "Account refused money-out, 24 h" },
  "feature.account_completed_out_90d": { zh: "账户 90 天内成功出款次数", en: "Account completed money-out, 90 days" },
  "feature.account_devices_30d": { zh: "账户 30 天内使用的设备数", en: "Devices of the account, 30 days" },
  "feature.account_failed_face_1h": { zh: "账户 1 小时内人脸核验失败次数", en: "Account face failures, 1 h" },
  "feature.account_failed_face_24h": { zh: "账户 24 小时内人脸核验失败次数", en: "Account face failures, 24 h" },
  "feature.account_credit_draws_1h": { zh: "账户 1 小时内支用次数", en: "Account credit draws, 1 h" },
  "feature.account_loans_1h": { zh: "账户 1 小时内借款次数", en: "Account loans, 1 h" },
  "feature.account_credit_draws_7d": { zh: "账户 7 天内支用次数", en: "Account credit draws, 7 days" },
  "feature.on_time_repayments": { zh: "按时（或提前）还款次数", en: "Repayments on time or early" },
  "feature.late_repayments": { zh: "逾期还款次数", en: "Late repayments" },
  "feature.amount_fen": { zh: "本次金额", en: "Amount" },
  "feature.category": { zh: "商品类别", en: "Goods category" },
  "feature.max_completed_out_90d_fen": { zh: "90 天内单笔最大成功出款", en: "Largest completed money-out, 90 days" },
  "feature.avg_completed_out_90d_fen": { zh: "90 天内平均成功出款", en: "Average completed money-out, 90 days" },
  "feature.amount_vs_max_completed_90d": { zh: "本次金额 / 90 天最大出款", en: "Amount / largest, 90 days" },
  "feature.amount_vs_avg_completed_90d": { zh: "本次金额 / 90 天平均出款", en: "Amount / average, 90 days" },
  "feature.account_completed_same_kind_90d": { zh: "90 天内同类成功出款次数", en: "Completed of the same kind, 90 days" },
  "feature.amount_vs_max_same_kind_90d": { zh: "本次金额 / 同类最大出款", en: "Amount / largest of the same kind" },
  "feature.amount_vs_avg_same_kind_90d": { zh: "本次金额 / 同类平均出款", en: "Amount / average of the same kind" },
  "feature.max_completed_installment_fen": { zh: "以往最大一笔分期或借款", en: "Largest earlier installment or loan" },
  "feature.days_since_real_name": { zh: "实名认证至今天数", en: "Days since real name" },
  "feature.credit_history_days": { zh: "信用记录天数", en: "Credit history, days" },
  "feature.account_age_days": { zh: "账户存在天数", en: "Account age, days" },
  "feature.account_orders_at_merchant_30d": { zh: "账户 30 天内在该商户的订单数", en: "Account orders at the merchant, 30 days" },
  "feature.account_installments_at_merchant_30d": { zh: "账户 30 天内在该商户的分期订单数", en: "Account installments at the merchant, 30 days" },
  "feature.account_refunds_at_merchant_30d": { zh: "账户 30 天内收到该商户退款次数", en: "Refunds from the merchant, 30 days" },
  "feature.device_money_out_10m": { zh: "设备 10 分钟内出款次数", en: "Device money-out, 10 min" },
  "feature.device_accounts_30d": { zh: "设备 30 天内的账户数", en: "Accounts on the device, 30 days" },
  "feature.device_failed_face_1h": { zh: "设备 1 小时内人脸核验失败次数", en: "Device face failures, 1 h" },
  "feature.device_failed_face_accounts_1h": { zh: "设备 1 小时内人脸核验失败的账户数", en: "Accounts failing face checks on the device, 1 h" },
  "feature.device_is_new_for_account": { zh: "账户的新设备（24 小时内）", en: "Device new to the account (24 h)" },
  "feature.hours_since_device_change": { zh: "更换设备至今小时数", en: "Hours since the device change" },
  "feature.ip_money_out_10m": { zh: "IP 10 分钟内出款次数", en: "IP money-out, 10 min" },
  "feature.ip_accounts_24h": { zh: "IP 24 小时内的账户数", en: "Accounts on the IP, 24 h" },
  "feature.face_accounts": { zh: "同一人脸的账户数", en: "Accounts with this face" },
  "feature.address_accounts_30d": { zh: "30 天内寄往该地址的账户数", en: "Accounts shipping to the address, 30 days" },
  "feature.installment_is_max_term": { zh: "最长期限", en: "Longest term" },
  "feature.credit_utilisation": { zh: "额度使用率", en: "Credit utilisation" },
  "feature.merchant_installments_30d": { zh: "商户 30 天内分期订单数", en: "Merchant installments, 30 days" },
  "feature.merchant_max_term_share_30d": { zh: "商户最长期限分期占比", en: "Merchant longest-term share" },
  "feature.merchant_distinct_accounts_max_term_30d": { zh: "商户最长期限分期的账户数", en: "Accounts with longest-term orders at the merchant" },
  "feature.merchant_orders_30d": { zh: "商户 30 天内成功订单数", en: "Merchant completed orders, 30 days" },
  "feature.merchant_refund_share_30d": { zh: "商户退款占比", en: "Merchant refund share" },
  "feature.merchant_quick_refund_share_30d": { zh: "商户 72 小时内退款占比", en: "Merchant refunds within 72 h" },
  "feature.km_from_usual_merchants": { zh: "距常用付款地点距离", en: "Distance from the usual merchants" },
  "feature.km_from_last_payment": { zh: "距上一笔付款距离", en: "Distance from the last payment" },
  "feature.travel_speed_kmh": { zh: "推算移动速度", en: "Implied travel speed" },
  "feature.account_quick_returns_30d": { zh: "账户 30 天内快速退货次数", en: "Account quick returns, 30 days" },
  "feature.account_device_rebinds_7d": { zh: "账户 7 天内更换绑定设备次数", en: "Account device re-bindings, 7 days" },
  "feature.merchant_is_new_for_account": { zh: "首次在该商户付款", en: "New merchant for the payer" },
});

const known = (key) => t(key) !== key;

// "some_unknown_key" -> "some unknown key": a key without a label is still readable.
const readable = (key) => key.replace(/_fen$/, "").replace(/[_.]/g, " ");

export const typologyName = (id) => (known("typology." + id) ? t("typology." + id) : readable(id));
export const kindName = (kind) => (known("kind." + kind) ? t("kind." + kind) : readable(kind));
// A code's label under a prefix, else the code as it is (a status or kind added later still shows).
export const codeName = (prefix, code) => (known(prefix + code) ? t(prefix + code) : code);

// An event's outcome: its own word, or for a money-out event not yet completed, the decision.
export function outcomeName(outcome) {
  if (!outcome) return "—";
  for (const key of ["event_outcome." + outcome, "action." + outcome]) if (known(key)) return t(key);
  return readable(outcome);
}

export const auditActionName = (action) => (known("audit_action." + action) ? t("audit_action." + action) : null);
export const reasonName = (code) => (known("reason." + code) ? t("reason." + code) : readable(code));
export const featureName = (name) => (known("feature." + name) ? t("feature." + name) : readable(name));
export const dataName = (key) => (known("data." + key) ? t("data." + key) : readable(key));

function number(value, digits) {
  return Number(value).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { maximumFractionDigits: digits });
}

// A value as a person reads it, by what its name says it is.
export function formatValue(name, value) {
  if (value === null || value === undefined) return t("value.none");
  if (Array.isArray(value)) return value.map((v) => formatValue(name, v)).join(", ");
  if (typeof value === "string") return known("value." + value) ? t("value." + value) : value;
  if (typeof value === "boolean") return t(value ? "value.yes" : "value.no");
  if (typeof value !== "number") return JSON.stringify(value);
  if (name.endsWith("_fen")) return "¥" + yuan(value);
  if (name.includes("share") || name === "credit_utilisation") return percent(value, 1);
  if (name.startsWith("amount_vs_")) return "×" + number(value, 2);
  if (/(^|_)is_/.test(name)) return t(value ? "value.yes" : "value.no");
  if (name === "travel_speed_kmh") return number(value, 0) + " km/h";
  if (name.startsWith("km_")) return number(value, 1) + " km";
  return number(value, 4);
}

// An event's details, one "label value" a line: {limit_fen: 50000} -> "额度 ¥500.00" / "limit ¥500.00".
export function dataLines(data) {
  return Object.entries(data || {}).map(([key, value]) => `${dataName(key)} ${formatValue(key, value)}`);
}

// A rule's or typology's description in the page's language (a rule set stored before the Chinese
// descriptions has only the English one).
export function described(item) {
  return lang === "zh" && item.description_zh ? item.description_zh : item.description;
}

// Typology ids as names, joined the way the language joins a list.
export function typologyList(ids) {
  return ids.map(typologyName).join(lang === "zh" ? "、" : ", ");
}
